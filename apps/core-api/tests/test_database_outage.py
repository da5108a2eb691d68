from __future__ import annotations

import uuid

import httpx
import psycopg
from core_factories import create_org, signup


def test_dropped_database_connections_give_503_then_recover(start_server, database_url) -> None:  # type: ignore[no-untyped-def]
    name = f"outage-{uuid.uuid4().hex[:8]}"
    server = start_server(db_application_name=name)
    with httpx.Client(base_url=server.url) as c:
        user = signup(c)
        org = create_org(c, user)
        for _ in range(3):  # fill the pool with live connections
            assert c.get(f"/orgs/{org['id']}/agents", headers=user.headers).status_code == 200
        # What a database restart does to the pool: every connection is cut.
        with psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True) as conn:
            killed = conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = %s",
                (name,),
            ).fetchone()
        assert killed and killed[0] >= 1
        statuses = [
            c.get(f"/orgs/{org['id']}/agents", headers=user.headers).status_code for _ in range(8)
        ]
    assert 500 not in statuses
    assert set(statuses) <= {200, 503}
    assert statuses[-1] == 200

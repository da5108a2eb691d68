"""Old sign-in records are pruned, so forged addresses cannot grow the tables without end."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import psycopg

from phi_core_api.auth.tasks import prune_sign_in_records
from phi_core_api.jobs import create_job_app


async def _prune(url: str, settings: Any) -> None:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await prune_sign_in_records(conn, settings)


def test_stale_counters_and_old_known_addresses_are_pruned(make_settings, database_url) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings()
    url = database_url.replace("+psycopg", "")
    tag = uuid.uuid4().hex[:8]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """
            INSERT INTO login_throttle (key, failures, window_started_at, last_failed_at,
                                        locked_until)
            VALUES (%(stale)s, 3, now() - interval '2 hours', now() - interval '2 hours', NULL),
                   (%(locked)s, 0, now() - interval '2 hours', now() - interval '2 hours',
                    now() + interval '1 minute'),
                   (%(recent)s, 9, now() - interval '2 hours', now() - interval '1 minute', NULL),
                   (%(fresh)s, 1, now(), now(), NULL)
            """,
            {
                "stale": f"pair:{tag}-stale",
                "locked": f"pair:{tag}-locked",
                "recent": f"account:{tag}-recent",
                "fresh": f"address:{tag}-fresh",
            },
        )
        (user_id,) = conn.execute(
            "INSERT INTO users (email, password_hash) VALUES (%s, 'x') RETURNING id",
            (f"{tag}@example.com",),
        ).fetchone()  # type: ignore[misc]
        conn.execute(
            "INSERT INTO login_known_addresses (user_id, address, last_seen_at) VALUES "
            "(%(u)s, '192.0.2.1', now() - interval '100 days'), "
            "(%(u)s, '192.0.2.2', now() - interval '1 day')",
            {"u": user_id},
        )

    asyncio.run(_prune(url, settings))

    with psycopg.connect(url) as conn:
        keys = {
            k
            for (k,) in conn.execute(
                "SELECT key FROM login_throttle WHERE key LIKE %s", (f"%{tag}%",)
            )
        }
        addresses = [
            a
            for (a,) in conn.execute(
                "SELECT address FROM login_known_addresses WHERE user_id = %s", (user_id,)
            )
        ]
    # Still locked, or failed within the window (the account's delay runs from the last
    # failure), or fresh: kept.
    assert keys == {f"pair:{tag}-locked", f"account:{tag}-recent", f"address:{tag}-fresh"}
    assert addresses == ["192.0.2.2"]


def test_the_prune_runs_hourly_on_core_api_workers(make_settings) -> None:  # type: ignore[no-untyped-def]
    app = create_job_app(make_settings())
    assert "auth:prune_sign_in_records" in app.tasks
    periodic = {p.task.name for p in app.periodic_registry.periodic_tasks.values()}
    assert "auth:prune_sign_in_records" in periodic

"""The workers' memory housekeeping: expired memories deleted, memories stored without a
vector (embedding service down) embedded, through a real worker process."""

from __future__ import annotations

import time
import uuid
from typing import Any

import psycopg
from core_factories import signup

from phi_core_api.jobs import create_job_app


def test_a_worker_deletes_expired_memories_and_embeds_the_rest(
    client: Any, live_server: Any, start_worker: Any
) -> None:
    settings = live_server.settings
    url = str(settings.database_url).replace("postgresql+psycopg://", "postgresql://")
    owner = signup(client)
    org_id = client.post("/orgs", json={"name": "Tidy"}, headers=owner.headers).json()["id"]
    with psycopg.connect(url, autocommit=True) as conn:
        ids = [
            conn.execute(
                "INSERT INTO memories (org_id, text, source, source_user_id, valid_until) "
                "VALUES (%s, %s, 'user', %s, %s) RETURNING id",
                (org_id, text, owner.id, until),
            ).fetchone()[0]  # type: ignore[index]
            for text, until in (
                ("Expired: gate 7 reserved.", "2000-01-01T00:00Z"),
                (f"Still true: dock 4 closed ({uuid.uuid4().hex[:6]}).", None),
            )
        ]
    start_worker()
    app = create_job_app(settings)
    with app.open():
        app.configure_task("memories:tidy_memories").defer(timestamp=int(time.time()))
    deadline = time.monotonic() + 60
    while True:
        with psycopg.connect(url) as conn:
            rows = dict(
                conn.execute(
                    "SELECT id, embedding IS NOT NULL FROM memories WHERE id = ANY(%s)", (ids,)
                ).fetchall()
            )
        if rows == {ids[1]: True}:
            break
        assert time.monotonic() < deadline, f"memories not tidied: {rows}"
        time.sleep(0.2)

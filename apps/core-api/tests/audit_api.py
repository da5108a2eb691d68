"""Reading audit events straight from the database, for exact counts."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row


class EventLog:
    """The events of one org, read since the last :meth:`new` call."""

    def __init__(self, database_url: str, org_id: str) -> None:
        self.url = database_url.replace("postgresql+psycopg://", "postgresql://")
        self.org_id = org_id
        self.seen = 0

    def new(self) -> list[dict[str, Any]]:
        with psycopg.connect(self.url, row_factory=dict_row) as conn:
            rows = conn.execute(
                "SELECT * FROM audit_events WHERE org_id = %s AND id > %s ORDER BY id",
                (self.org_id, self.seen),
            ).fetchall()
        if rows:
            self.seen = rows[-1]["id"]
        return rows

    def one(
        self, action: str, actor_id: str | None, target: tuple[str, str | None]
    ) -> dict[str, Any]:
        """The single event written since the last call; it must be ``action`` by
        ``actor_id`` on ``target`` (type, id)."""
        rows = self.new()
        assert [r["action"] for r in rows] == [action], rows
        event = rows[0]
        assert (str(event["actor_id"]) if event["actor_id"] else None) == actor_id, event
        assert (event["target_type"], event["target_id"]) == target, event
        assert event["request_id"], event  # taken from the request by the recorder
        return event

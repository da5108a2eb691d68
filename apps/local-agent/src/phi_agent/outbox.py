"""The durable outbox: finished results wait here (SQLite) until the cloud has them.

A result is written before it is sent and removed only once the cloud answered for it, so a
result survives the cloud being down and the agent's own restarts. One row per call and
attempt: writing the same result again changes nothing.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class PendingResult:
    tool_call_id: str
    attempt: int
    body: str
    tries: int


class Outbox:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = FULL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS results ("
            " tool_call_id TEXT NOT NULL, attempt INTEGER NOT NULL, body TEXT NOT NULL,"
            " created_at REAL NOT NULL, tries INTEGER NOT NULL DEFAULT 0,"
            " PRIMARY KEY (tool_call_id, attempt))"
        )

    def put(self, tool_call_id: str, attempt: int, body: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO results (tool_call_id, attempt, body, created_at)"
                " VALUES (?, ?, ?, ?)",
                (tool_call_id, attempt, body, time.time()),
            )

    def pending(self, limit: int = 50) -> list[PendingResult]:
        with self._lock:
            rows = self._db.execute(
                "SELECT tool_call_id, attempt, body, tries FROM results"
                " ORDER BY created_at LIMIT ?",
                (limit,),
            ).fetchall()
        return [PendingResult(*row) for row in rows]

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM results").fetchone()[0])

    def done(self, tool_call_id: str, attempt: int) -> None:
        with self._lock:
            self._db.execute(
                "DELETE FROM results WHERE tool_call_id = ? AND attempt = ?",
                (tool_call_id, attempt),
            )

    def tried(self, tool_call_id: str, attempt: int) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE results SET tries = tries + 1 WHERE tool_call_id = ? AND attempt = ?",
                (tool_call_id, attempt),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()

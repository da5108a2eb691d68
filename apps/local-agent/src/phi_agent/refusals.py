"""The summary of policy refusals the agent reports to the cloud on its heartbeats, where they
become audit events of the organization ("local agent Warehouse PC refused 3× db: ...").

Only the reason and the tool go up, counted, never the request or any data: a reason that
quotes the database's own error is cut to "refused by the database" (such messages can quote
values). The summary is bounded (a flood of refusals is counted, not listed) and kept until a
heartbeat carrying it is accepted, so a cloud that was unreachable still hears of them.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

MAX_ENTRIES = 20
MAX_REASON = 200
_DATABASE = "refused by the database"
_OTHER = "other refusals (too many different reasons to list)"


def report_reason(message: str) -> str:
    """The part of a refusal message that may leave the machine."""
    cut = message.find(_DATABASE)
    if cut >= 0:
        message = message[: cut + len(_DATABASE)]
    message = " ".join(message.split())
    return message if len(message) <= MAX_REASON else message[: MAX_REASON - 1] + "…"


class RefusalSummary:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], dict[str, Any]] = {}

    def add(self, tool: str, message: str) -> None:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        key = (tool[:64], report_reason(message))
        with self._lock:
            # The last place is kept for everything that does not fit.
            if key not in self._entries and len(self._entries) >= MAX_ENTRIES - 1:
                key = ("*", _OTHER)
            entry = self._entries.setdefault(
                key, {"tool": key[0], "reason": key[1], "count": 0, "first_at": now}
            )
            entry["count"] += 1
            entry["last_at"] = now

    def pending(self) -> list[dict[str, Any]]:
        """What the next heartbeat reports (a copy)."""
        with self._lock:
            return [dict(e) for e in self._entries.values()]

    def acknowledge(self, sent: list[dict[str, Any]]) -> None:
        """The cloud accepted ``sent``: forget those counts (refusals since then stay)."""
        with self._lock:
            for item in sent:
                key = (item["tool"], item["reason"])
                entry = self._entries.get(key)
                if entry is None:
                    continue
                entry["count"] -= item["count"]
                if entry["count"] <= 0:
                    del self._entries[key]
                else:
                    entry["first_at"] = item["last_at"]

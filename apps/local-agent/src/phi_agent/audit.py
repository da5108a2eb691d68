"""The local audit log: one JSON line for every executed call and every refusal.

It is the customer's record of what the cloud asked and what the agent did, kept on their
machine; the agent only appends to it.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def record(self, event: str, **fields: Any) -> None:
        entry = {"at": datetime.now(UTC).isoformat(timespec="milliseconds"), "event": event}
        entry.update({k: v for k, v in fields.items() if v is not None})
        line = json.dumps(entry, default=str, ensure_ascii=False)
        # One write per line under a lock, so parallel calls never interleave their lines.
        with self._lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")

"""The local audit log: one JSON line for every executed call and every refusal.

It is the customer's record of what the cloud asked and what the agent did, kept on their
machine; the agent only appends to it. Every line written while a call runs (the tools' own
``query`` and ``file_read`` lines included) carries that call's ``tool_call_id`` and
``attempt``, so each statement can be tied to the task that asked for it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# The call being run in this context. A context variable rather than a tool argument: the
# worker runs each call in its own asyncio task and the tool in a thread
# (``asyncio.to_thread``), and both carry the context along, so parallel calls never mix.
_CALL: ContextVar[tuple[tuple[str, Any], ...]] = ContextVar("phi_agent_audit_call", default=())


@contextmanager
def call_scope(tool_call_id: str, attempt: int) -> Iterator[None]:
    """Tag every line recorded inside the block with the call it belongs to."""
    token = _CALL.set((("tool_call_id", tool_call_id), ("attempt", attempt)))
    try:
        yield
    finally:
        _CALL.reset(token)


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def record(self, event: str, **fields: Any) -> None:
        entry = {"at": datetime.now(UTC).isoformat(timespec="milliseconds"), "event": event}
        entry.update(_CALL.get())
        entry.update({k: v for k, v in fields.items() if v is not None})
        line = json.dumps(entry, default=str, ensure_ascii=False)
        # One write per line under a lock, so parallel calls never interleave their lines.
        with self._lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write(line + "\n")

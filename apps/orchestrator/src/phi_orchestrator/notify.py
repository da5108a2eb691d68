"""PostgreSQL LISTEN/NOTIFY: one listening connection per process. In the API it wakes every
long poll and event stream waiting on an agent's tool calls or a task's events; in a worker,
the runs waiting a moment for a local agent's answer (``TaskHandle.tool_call``).

The triggers of migration 0005 send ``phi_tool_calls`` (payload: agent id) when a call
becomes claimable and ``phi_task_events`` (payload: ``task id:seq``) for each event, whoever
wrote it. Waiters also re-check on a short timer, so a lost connection or a lease that ran
out (which sends nothing) delays an answer by at most that long.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Iterator

import psycopg

logger = logging.getLogger(__name__)

TOOL_CALLS = "phi_tool_calls"
TASK_EVENTS = "phi_task_events"


class Notifier:
    def __init__(
        self,
        conninfo: str,
        channels: tuple[str, ...] = (TOOL_CALLS, TASK_EVENTS),
        application_name: str = "phi-orchestrator-listen",
    ) -> None:
        self.conninfo = conninfo
        self.channels = channels
        self.application_name = application_name
        self._waiters: dict[tuple[str, str], set[asyncio.Event]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="phi-notifier")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _listen(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.conninfo, autocommit=True, application_name=self.application_name
                ) as conn:
                    for channel in self.channels:
                        await conn.execute(f"LISTEN {channel}")
                    self.connected.set()
                    self._wake_all()  # something may have happened while we were away
                    async for note in conn.notifies():
                        key = note.payload.split(":", 1)[0]
                        for event in self._waiters.get((note.channel, key), ()):
                            event.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database went away: retry, waiters poll meanwhile
                self.connected.clear()
                logger.warning("notification listener lost its connection: %s", exc)
                await asyncio.sleep(1)

    def _wake_all(self) -> None:
        for events in self._waiters.values():
            for event in events:
                event.set()

    @contextlib.contextmanager
    def subscribe(self, channel: str, key: str) -> Iterator[asyncio.Event]:
        """An event set whenever ``channel`` carries ``key`` (subscribe before checking)."""
        event = asyncio.Event()
        self._waiters[(channel, key)].add(event)
        try:
            yield event
        finally:
            waiters = self._waiters.get((channel, key))
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    del self._waiters[(channel, key)]


async def wait_for(event: asyncio.Event, timeout: float) -> bool:
    """Wait until ``event`` is set or ``timeout`` passes; clears it. True if it was set."""
    try:
        await asyncio.wait_for(event.wait(), timeout=max(timeout, 0))
    except TimeoutError:
        return False
    finally:
        event.clear()
    return True

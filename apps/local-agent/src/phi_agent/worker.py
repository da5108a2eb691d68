"""The agent's main loop: heartbeat, long poll, run calls in parallel, deliver results.

- A heartbeat registers the agent at start and repeats on the interval the cloud gives.
- The long poll claims at most as many calls as there are free slots (``max_parallel_calls``).
- A call whose lease already passed when it arrives is not run: the cloud offers it again.
- While a call runs its lease is renewed; a 409 means another attempt owns it now, and the
  call is abandoned.
- A finished result goes to the durable outbox first, then to the cloud; it leaves the outbox
  only when the cloud answered for it (accepted, duplicate, or refused for good).
- Cloud unreachable: back off exponentially with jitter, keep everything in the outbox.
- 401/403: the key was revoked or is another agent's; the agent stops saying so.
- SIGTERM/SIGINT: stop polling, let running calls finish (up to a grace period), deliver what
  can be delivered, exit. A call not finished in time is left to its lease, which lapses.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from phi_agent import __version__
from phi_agent.audit import AuditLog, call_scope
from phi_agent.client import AgentRevoked, CallRefused, CloudUnreachable, OrchestratorClient
from phi_agent.contract_check import load_result
from phi_agent.outbox import Outbox
from phi_agent.refusals import RefusalSummary
from phi_agent.registry import Tool, ToolFailed, ToolRefused

log = logging.getLogger("phi_agent")

EXIT_OK = 0
EXIT_REVOKED = 4


@dataclass
class WorkerOptions:
    poll_wait_seconds: int = 20
    backoff_base_seconds: float = 1.0
    backoff_max_seconds: float = 30.0
    grace_seconds: float = 30.0


class Backoff:
    """Exponential backoff with jitter, so many agents do not retry in step."""

    def __init__(self, base: float, cap: float) -> None:
        self.base, self.cap, self.failures = base, cap, 0

    def next_delay(self) -> float:
        delay = min(self.cap, self.base * 2**self.failures)
        self.failures += 1
        return delay * random.uniform(0.5, 1.0)

    def reset(self) -> None:
        self.failures = 0


def callback_body(call: dict[str, Any], result_json: str | None, error: str | None) -> str:
    head = {
        "tool_call_id": call["tool_call_id"],
        "task_id": call.get("task_id"),
        "attempt": call["attempt"],
        "tool": call["tool"],
    }
    if result_json is None:
        return json.dumps({**head, "result": None, "error": error or "failed"})
    # The result is already JSON text: splice it in rather than parse and encode it again.
    return json.dumps(head)[:-1] + ',"result":' + result_json + ',"error":null}'


class Worker:
    def __init__(
        self,
        *,
        orchestrator_url: str,
        key: str,
        agent_id: str,
        name: str,
        tools: dict[str, Tool],
        state_dir: Path,
        audit: AuditLog,
        max_parallel_calls: int,
        options: WorkerOptions | None = None,
    ) -> None:
        self.client = OrchestratorClient(orchestrator_url, key)
        self.agent_id = agent_id
        self.name = name
        self.tools = tools
        self.state_dir = state_dir
        self.state_path = state_dir / "state.json"
        self.outbox = Outbox(state_dir / "outbox.sqlite")
        self.audit = audit
        self.refusals = RefusalSummary()
        self.parallel = max_parallel_calls
        self.options = options or WorkerOptions()
        self.local_agent_id: str | None = self._load_state()
        self.heartbeat_interval = 30.0
        self.lease_seconds = 60.0
        self.running: set[asyncio.Task[None]] = set()
        self.stopping = asyncio.Event()
        self.flush_now = asyncio.Event()
        self.fatal: AgentRevoked | None = None

    # -- state ----------------------------------------------------------------------------
    def _load_state(self) -> str | None:
        try:
            state = json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            return None
        if state.get("agent_id") != self.agent_id:
            return None  # a state dir reused for another agent starts over
        return state.get("local_agent_id")

    def _save_state(self) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(
            json.dumps({"agent_id": self.agent_id, "local_agent_id": self.local_agent_id})
        )
        tmp.replace(self.state_path)

    # -- lifecycle ------------------------------------------------------------------------
    def stop(self, reason: str = "stop requested") -> None:
        if not self.stopping.is_set():
            log.info("stopping: %s", reason)
            self.stopping.set()

    def _fail(self, exc: AgentRevoked) -> None:
        if self.fatal is None:
            self.fatal = exc
        self.stop("the cloud refused the key")

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, self.stop, f"signal {sig.name}")
            except (NotImplementedError, RuntimeError):
                pass  # not the main thread (tests) or not supported: stop() still works
        try:
            if await self._register():
                loops = [
                    asyncio.create_task(self._heartbeat_loop()),
                    asyncio.create_task(self._outbox_loop()),
                    asyncio.create_task(self._poll_loop()),
                ]
                await self.stopping.wait()
                await self._drain(loops)
        finally:
            await self.client.close()
            self.outbox.close()
            for tool in self.tools.values():
                tool.close()
        if self.fatal is not None:
            log.error("%s", self.fatal)
            return EXIT_REVOKED
        return EXIT_OK

    async def _drain(self, loops: list[asyncio.Task[None]]) -> None:
        poll = loops[2]
        poll.cancel()
        if self.running and self.fatal is None:
            log.info(
                "waiting up to %.0f s for %d running call(s)",
                self.options.grace_seconds,
                len(self.running),
            )
            await asyncio.wait(self.running, timeout=self.options.grace_seconds)
        for task in list(self.running):
            task.cancel()  # its lease lapses and the cloud offers the call again
        if self.fatal is None:
            try:
                await asyncio.wait_for(self._flush_once(), timeout=10)
            except (TimeoutError, CloudUnreachable):
                pass
        for task in loops:
            task.cancel()
        await asyncio.gather(*loops, *self.running, return_exceptions=True)
        left = self.outbox.count()
        if left:
            log.info("%d result(s) kept in the outbox for the next start", left)

    async def _sleep_or_stop(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self.stopping.wait(), timeout=seconds)
        except TimeoutError:
            pass

    # -- heartbeat ------------------------------------------------------------------------
    def _heartbeat_body(self, refusals: list[dict[str, Any]]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "local_agent_id": self.local_agent_id,
            "name": self.name,
            "host": socket.gethostname(),
            "version": __version__,
            "tools": sorted(self.tools),
            # The last `phi-agent contract check` on this machine (None: never run here).
            "contract_check": load_result(self.state_dir),
        }
        if refusals:
            body["refusals"] = refusals
        return body

    async def _heartbeat(self) -> None:
        refusals = self.refusals.pending()
        try:
            answer = await self.client.heartbeat(self._heartbeat_body(refusals))
        except CallRefused as exc:
            if exc.status in (404, 409, 422) and self.local_agent_id is not None:
                # The cloud no longer knows this local agent id: register afresh.
                self.local_agent_id = None
                answer = await self.client.heartbeat(self._heartbeat_body(refusals))
            else:
                raise
        self.refusals.acknowledge(refusals)
        self.local_agent_id = str(answer["local_agent_id"])
        self.heartbeat_interval = float(answer.get("heartbeat_interval_seconds", 30))
        self.lease_seconds = float(answer.get("lease_seconds", 60))
        self._save_state()

    async def _register(self) -> bool:
        backoff = Backoff(self.options.backoff_base_seconds, self.options.backoff_max_seconds)
        while not self.stopping.is_set():
            try:
                await self._heartbeat()
                log.info(
                    "connected as local agent %s; tools: %s",
                    self.local_agent_id,
                    ", ".join(sorted(self.tools)),
                )
                return True
            except AgentRevoked as exc:
                self._fail(exc)
                return False
            except (CloudUnreachable, CallRefused) as exc:
                delay = backoff.next_delay()
                log.warning("cloud unreachable (%s); retrying in %.1f s", exc, delay)
                await self._sleep_or_stop(delay)
        return False

    async def _heartbeat_loop(self) -> None:
        while not self.stopping.is_set():
            await self._sleep_or_stop(self.heartbeat_interval)
            if self.stopping.is_set():
                return
            try:
                await self._heartbeat()
            except AgentRevoked as exc:
                self._fail(exc)
            except (CloudUnreachable, CallRefused) as exc:
                log.warning("heartbeat failed: %s", exc)

    # -- polling and running --------------------------------------------------------------
    async def _poll_loop(self) -> None:
        backoff = Backoff(self.options.backoff_base_seconds, self.options.backoff_max_seconds)
        while not self.stopping.is_set():
            free = self.parallel - len(self.running)
            if free <= 0:
                await asyncio.wait(self.running, return_when=asyncio.FIRST_COMPLETED)
                continue
            try:
                assert self.local_agent_id is not None
                calls = await self.client.pending_tasks(
                    self.local_agent_id, self.options.poll_wait_seconds, free
                )
                if backoff.failures:
                    # The cloud is back: deliver what waited now, not after the outbox's own
                    # backoff, while the leases of those results may still hold.
                    self.flush_now.set()
                backoff.reset()
            except AgentRevoked as exc:
                self._fail(exc)
                return
            except (CloudUnreachable, CallRefused) as exc:
                delay = backoff.next_delay()
                log.warning("polling failed (%s); retrying in %.1f s", exc, delay)
                if isinstance(exc, CallRefused) and exc.status == 404:
                    try:
                        await self._heartbeat()
                    except (CloudUnreachable, CallRefused, AgentRevoked):
                        pass
                await self._sleep_or_stop(delay)
                continue
            for call in calls:
                task = asyncio.create_task(self._execute(call))
                self.running.add(task)
                task.add_done_callback(self.running.discard)

    async def _keep_lease(self, call: dict[str, Any]) -> str:
        """Renew the lease until cancelled; return why the call was lost if it was."""
        interval = max(1.0, self.lease_seconds / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                await self.client.renew_lease(call["tool_call_id"], call["attempt"])
            except CallRefused as exc:
                return f"lease lost ({exc.status}: {exc.detail})"
            except CloudUnreachable as exc:
                log.warning("lease renewal failed for %s: %s", call["tool_call_id"], exc)
            except AgentRevoked as exc:
                self._fail(exc)
                return "the cloud refused the key"

    async def _execute(self, call: dict[str, Any]) -> None:
        # The tools' own audit lines (each query, each file read) carry the call's id too.
        with call_scope(call["tool_call_id"], int(call["attempt"])):
            await self._run_call(call)

    async def _run_call(self, call: dict[str, Any]) -> None:
        call_id, attempt, name = call["tool_call_id"], int(call["attempt"]), call["tool"]
        where = {"tool_call_id": call_id, "attempt": attempt, "tool": name}
        deadline = call.pop("_lease_deadline", None)
        if deadline is not None and deadline <= time.monotonic():
            self.audit.record("skipped", reason="lease passed before the call started", **where)
            log.warning("skipped call %s (attempt %d): its lease had passed", call_id, attempt)
            return
        tool = self.tools.get(name)
        log.info("running %s call %s (attempt %d)", name, call_id, attempt)
        result_json: str | None = None
        error: str | None = None
        if tool is None:
            error = f"the tool '{name}' is not enabled in this agent's local policy"
            self.audit.record("refused", reason=error, **where)
            self.refusals.add(name, error)
        else:
            payload = call.get("payload") or {}
            lease = asyncio.create_task(self._keep_lease(call))
            work = asyncio.create_task(asyncio.to_thread(tool.run, payload))
            try:
                await asyncio.wait({work, lease}, return_when=asyncio.FIRST_COMPLETED)
            except asyncio.CancelledError:
                lease.cancel()
                self.audit.record("abandoned", reason="agent stopping", **where)
                raise
            if not work.done():
                # Another attempt owns the call now; its result would be refused anyway.
                self.audit.record("abandoned", reason=lease.result(), **where)
                log.warning("abandoned call %s: %s", call_id, lease.result())
                return
            lease.cancel()
            try:
                result_json = work.result()
                self.audit.record("executed", bytes=len(result_json), **where)
            except ToolRefused as exc:
                error = str(exc)
                self.audit.record("refused", reason=error, **where)
                self.refusals.add(name, error)
                if "refused" not in error:
                    # The cloud (and the model an agent task asks) learns it was the policy.
                    error = f"refused by the local policy: {error}"
            except ToolFailed as exc:
                error = str(exc)
                self.audit.record("failed", reason=error, **where)
            except Exception as exc:  # a tool bug must not kill the agent: report it
                error = f"internal error in the {name} tool: {type(exc).__name__}: {exc}"
                self.audit.record("failed", reason=error, **where)
                log.exception("tool %s crashed", name)
        self.outbox.put(call_id, attempt, callback_body(call, result_json, error))
        self.flush_now.set()

    # -- delivering -----------------------------------------------------------------------
    async def _flush_once(self) -> None:
        """Send everything in the outbox once; CloudUnreachable stops at the first failure."""
        for item in self.outbox.pending():
            try:
                status = await self.client.send_result(item.body)
                self.audit.record(
                    "delivered", tool_call_id=item.tool_call_id, attempt=item.attempt, status=status
                )
            except CallRefused as exc:
                if exc.status == 413:
                    # Too large for the cloud: tell it so instead of losing the call.
                    call = json.loads(item.body)
                    reason = "the result is larger than the cloud accepts (413)"
                    self.outbox.done(item.tool_call_id, item.attempt)
                    self.outbox.put(
                        item.tool_call_id, item.attempt, callback_body(call, None, reason)
                    )
                    continue
                self.audit.record(
                    "result_refused_by_cloud",
                    tool_call_id=item.tool_call_id,
                    attempt=item.attempt,
                    status=exc.status,
                    reason=exc.detail,
                )
                log.warning(
                    "the cloud refused the result of %s attempt %d: %s",
                    item.tool_call_id,
                    item.attempt,
                    exc,
                )
            except CloudUnreachable:
                self.outbox.tried(item.tool_call_id, item.attempt)
                raise
            self.outbox.done(item.tool_call_id, item.attempt)

    async def _wait_for_flush(self, seconds: float) -> None:
        """Sleep until a result is ready to send, the cloud is back, a stop, or ``seconds``."""
        waiters = {
            asyncio.ensure_future(self.flush_now.wait()),
            asyncio.ensure_future(self.stopping.wait()),
        }
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _outbox_loop(self) -> None:
        backoff = Backoff(self.options.backoff_base_seconds, self.options.backoff_max_seconds)
        while not self.stopping.is_set():
            self.flush_now.clear()
            try:
                await self._flush_once()
                backoff.reset()
            except AgentRevoked as exc:
                self._fail(exc)
                return
            except CloudUnreachable as exc:
                delay = backoff.next_delay()
                log.warning(
                    "cannot deliver results (%s); %d waiting, retrying in %.1f s",
                    exc,
                    self.outbox.count(),
                    delay,
                )
                self.flush_now.clear()
                await self._wait_for_flush(delay)
                continue
            if self.outbox.count():
                continue
            await self._wait_for_flush(5)

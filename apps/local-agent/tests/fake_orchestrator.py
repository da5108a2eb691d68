"""A small stand-in for the orchestrator's local-agent routes, over real HTTP, for testing the
worker's behaviour when the cloud is down, slow, or refuses. The real orchestrator is tested
with the agent in tests/test_end_to_end.py."""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Call:
    tool: str
    payload: dict[str, Any]
    tool_call_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    task_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    attempt: int = 0
    lease_until: datetime | None = None
    claimed: bool = False
    lease_override: str | None = None  # hand out this lease_until instead (in the past)


@dataclass
class FakeOrchestrator:
    lease_seconds: float = 5
    heartbeat_interval: float = 1
    down: bool = False  # every route answers 503
    callbacks_down: bool = False  # only /tool-callbacks answers 503
    revoked: bool = False  # every route answers 401
    lease_conflicts: set[str] = field(default_factory=set)  # calls whose renewals get 409
    clock_offset_seconds: float = 0  # the cloud's clock against this machine's
    calls: dict[str, Call] = field(default_factory=dict)
    accepted: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    heartbeats: list[dict[str, Any]] = field(default_factory=list)
    renewals: list[str] = field(default_factory=list)
    answered_down: int = 0  # requests answered 503 because the cloud was down
    lock: threading.Condition = field(default_factory=threading.Condition)

    def add(self, tool: str, payload: dict[str, Any], lease_override: str | None = None) -> Call:
        call = Call(tool, payload, lease_override=lease_override)
        with self.lock:
            self.calls[call.tool_call_id] = call
            self.lock.notify_all()
        return call

    def _claimable(self, now: datetime) -> list[Call]:
        return [
            c
            for c in self.calls.values()
            if not c.claimed or (c.lease_until is not None and c.lease_until < now and c.attempt)
        ]

    def _claim(self, limit: int, wait: float) -> list[dict[str, Any]]:
        deadline = datetime.now(UTC) + timedelta(seconds=wait)
        with self.lock:
            while True:
                now = datetime.now(UTC)
                ready = [c for c in self._claimable(now) if not self._done(c)][:limit]
                if ready or now >= deadline:
                    break
                self.lock.wait(timeout=min(0.2, (deadline - now).total_seconds()))
            out = []
            for call in ready:
                call.claimed = True
                call.attempt += 1
                call.lease_until = now + timedelta(seconds=self.lease_seconds)
                cloud_lease = call.lease_until + timedelta(seconds=self.clock_offset_seconds)
                out.append(
                    {
                        "tool_call_id": call.tool_call_id,
                        "task_id": call.task_id,
                        "step": "fetch_data",
                        "tool": call.tool,
                        "attempt": call.attempt,
                        "lease_until": call.lease_override
                        or cloud_lease.isoformat().replace("+00:00", "Z"),
                        "payload": call.payload,
                    }
                )
            return out

    def _done(self, call: Call) -> bool:
        return any(a["tool_call_id"] == call.tool_call_id for a in self.accepted)

    def results_for(self, call: Call) -> list[dict[str, Any]]:
        with self.lock:
            return [a for a in self.accepted if a["tool_call_id"] == call.tool_call_id]

    # -- HTTP -----------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        if self.revoked:
            return 401, {"detail": "this key was revoked"}
        if self.down or (self.callbacks_down and path == "/tool-callbacks"):
            with self.lock:
                self.answered_down += 1
            return 503, {"detail": "down for maintenance"}
        if path == "/local-agents/heartbeat":
            with self.lock:
                self.heartbeats.append(body)
            return 200, {
                "local_agent_id": body.get("local_agent_id") or str(uuid.uuid4()),
                "agent_id": str(uuid.uuid4()),
                "org_id": str(uuid.uuid4()),
                "heartbeat_interval_seconds": self.heartbeat_interval,
                "lease_seconds": self.lease_seconds,
            }
        if path.endswith("/pending-tasks"):
            tasks = self._claim(int(query.get("max", 1)), float(query.get("wait", 20)))
            return 200, {"tasks": tasks}
        if path.endswith("/lease"):
            call_id = path.split("/")[2]
            with self.lock:
                self.renewals.append(call_id)
                call = self.calls[call_id]
                if call_id in self.lease_conflicts or body["attempt"] != call.attempt:
                    return 409, {"detail": "the attempt was superseded"}
                call.lease_until = datetime.now(UTC) + timedelta(seconds=self.lease_seconds)
                return 200, {"lease_until": call.lease_until.isoformat()}
        if path == "/tool-callbacks":
            with self.lock:
                call = self.calls.get(body["tool_call_id"])
                if call is None:
                    return 404, {"detail": "unknown call"}
                same = [a for a in self.accepted if a["tool_call_id"] == call.tool_call_id]
                if same and same[0]["attempt"] == body["attempt"]:
                    return 200, {"status": "duplicate"}
                if same or body["attempt"] != call.attempt:
                    self.refused.append(body)
                    return 409, {"detail": "superseded attempt"}
                self.accepted.append(body)
                self.lock.notify_all()
                return 200, {"status": "accepted"}
        return 404, {"detail": "no such route"}

    def serve(self) -> tuple[ThreadingHTTPServer, str]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _go(self, method: str) -> None:
                from urllib.parse import parse_qsl, urlsplit

                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else {}
                status, answer = fake.handle(method, parts.path, dict(parse_qsl(parts.query)), body)
                data = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    # The agent stopped (or was killed) while a long poll was held open: it
                    # no longer wants the answer. Nothing is lost, a claimed call's lease lapses.
                    pass

            def do_GET(self) -> None:  # noqa: N802
                self._go("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._go("POST")

            def log_message(self, *args: Any) -> None:
                pass

            def date_time_string(self, timestamp: float | None = None) -> str:
                import time as _time

                return super().date_time_string(_time.time() + fake.clock_offset_seconds)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server, f"http://127.0.0.1:{server.server_address[1]}"

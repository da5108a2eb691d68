"""The orchestrator's local-agent API (docs/local-agent-protocol.md), as seen from the agent."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from phi_agent import __version__


class CloudUnreachable(Exception):
    """No answer, or a 5xx: try again later."""


class AgentRevoked(Exception):
    """401/403: the key was revoked or belongs to another agent. The agent stops."""


class CallRefused(Exception):
    """The cloud refused a result or lease for good (409, 404, 413): do not retry."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        for key in ("detail", "message", "error"):
            if key in body:
                return str(body[key])[:300]
    return str(body)[:300]


def _server_time(response: httpx.Response) -> datetime | None:
    try:
        return parsedate_to_datetime(response.headers["date"])
    except (KeyError, TypeError, ValueError):
        return None


class OrchestratorClient:
    def __init__(self, base_url: str, key: str, *, timeout: float = 30.0) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={
                "Authorization": f"Bearer {key}",
                "User-Agent": f"phi-agent/{__version__}",
            },
            timeout=httpx.Timeout(timeout, connect=10.0),
        )

    async def close(self) -> None:
        await self._http.aclose()

    async def _request(
        self,
        method: str,
        path: str,
        *,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        try:
            if timeout is not None:
                kwargs["timeout"] = timeout
            response = await self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise CloudUnreachable(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        if response.status_code in (401, 403):
            raise AgentRevoked(
                f"the cloud refused this agent's key ({response.status_code}: "
                f"{_detail(response)}). "
                "The key was revoked or belongs to another agent: create a new key on the "
                "agent's page, set PHI_AGENT_KEY, and start phi-agent again."
            )
        if response.status_code >= 500 or response.status_code == 429:
            raise CloudUnreachable(f"{method} {path}: {response.status_code} {_detail(response)}")
        return response

    async def heartbeat(self, body: dict[str, Any]) -> dict[str, Any]:
        response = await self._request("POST", "/local-agents/heartbeat", json=body)
        if response.status_code != 200:
            raise CallRefused(response.status_code, _detail(response))
        return dict(response.json())

    async def pending_tasks(
        self, local_agent_id: str, wait: int, limit: int
    ) -> list[dict[str, Any]]:
        response = await self._request(
            "GET",
            f"/local-agents/{local_agent_id}/pending-tasks",
            params={"wait": wait, "max": limit},
            timeout=wait + 15.0,
        )
        if response.status_code != 200:
            raise CallRefused(response.status_code, _detail(response))
        tasks = list(response.json().get("tasks", []))
        # How long each lease has left by the cloud's own clock (its Date header), measured
        # from now on ours: a customer machine whose clock is off does not skip good calls.
        cloud_now = _server_time(response)
        received = time.monotonic()
        for task in tasks:
            try:
                until = datetime.fromisoformat(str(task["lease_until"]).replace("Z", "+00:00"))
                if until.tzinfo is None:
                    until = until.replace(tzinfo=UTC)
                left = (until - (cloud_now or datetime.now(UTC))).total_seconds()
            except (KeyError, ValueError):
                left = None
            task["_lease_deadline"] = None if left is None else received + left
        return tasks

    async def renew_lease(self, tool_call_id: str, attempt: int) -> str:
        response = await self._request(
            "POST", f"/tool-calls/{tool_call_id}/lease", json={"attempt": attempt}
        )
        if response.status_code != 200:
            raise CallRefused(response.status_code, _detail(response))
        return str(response.json().get("lease_until"))

    async def send_result(self, body: str) -> str:
        """Post a callback body (JSON text, encoded by the tool); the cloud's status word."""
        response = await self._request(
            "POST",
            "/tool-callbacks",
            content=body.encode("utf-8"),
            headers={"Content-Type": "application/json"},
        )
        if response.status_code != 200:
            raise CallRefused(response.status_code, _detail(response))
        return str(response.json().get("status", "accepted"))

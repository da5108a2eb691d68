"""The orchestrator's local-agent API (docs/local-agent-protocol.md), as seen from the agent."""

from __future__ import annotations

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
            extra = {"timeout": timeout} if timeout is not None else {}
            response = await self._http.request(method, path, **kwargs, **extra)
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
        return list(response.json().get("tasks", []))

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

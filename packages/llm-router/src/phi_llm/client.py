"""Client of the router service with the same interface as :class:`phi_llm.Router`.

Services pick one or the other: the in-process router by default, this client when
``PHI_LLM_ROUTER_URL`` names a running router service. Errors come back as the same
exceptions the in-process router raises.
"""

from __future__ import annotations

from typing import Any

import httpx

from phi_llm.errors import (
    AllProvidersFailed,
    BudgetExceeded,
    BudgetStopped,
    LLMError,
    ProviderError,
    ResponseOvershoot,
    UnknownOrganization,
    UnknownTaskClass,
)
from phi_llm.types import CallContext, ChatResult, EmbedResult, Message


class RouterClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 120.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            transport=transport,
        )

    @staticmethod
    def _context(context: CallContext | None) -> dict[str, Any]:
        ctx = context or CallContext()
        return {
            "org_id": str(ctx.org_id) if ctx.org_id else None,
            "agent_id": str(ctx.agent_id) if ctx.agent_id else None,
            "task_id": str(ctx.task_id) if ctx.task_id else None,
            "task": ctx.task,
        }

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = await self._http.post(path, json=body)
        except httpx.HTTPError as exc:
            raise AllProvidersFailed(
                str(body.get("task_class", "embed")),
                [
                    ProviderError(
                        "llm-router", "-", "unavailable", f"router service unreachable: {exc}"
                    )
                ],
            ) from exc
        if response.status_code == 200:
            return response.json()
        try:
            data = response.json()
        except ValueError:
            data = {"detail": response.text}
        message = str(data.get("detail"))
        if response.status_code in (502, 503) and "attempts" in data:
            attempts = [
                ProviderError(a["provider"], a["model"], a["kind"], a["message"], a.get("status"))
                for a in data["attempts"]
            ]
            if data.get("code") == "overshoot" and attempts:
                raise ResponseOvershoot(
                    data.get("task_class", ""),
                    attempts,
                    provider=attempts[0].provider,
                    model=attempts[0].model,
                    allowed=int(data.get("allowed") or 0),
                    tokens_in=int(data.get("tokens_in") or 0),
                    tokens_out=int(data.get("tokens_out") or 0),
                )
            raise AllProvidersFailed(data.get("task_class", ""), attempts)
        if response.status_code == 429 and data.get("code") == "token_budget_exceeded":
            args = (data["org_id"], data["budget"], data["used"], int(data.get("needed") or 0))
            if data.get("stopped_at_budget") is not None:
                raise BudgetStopped(*args, stopped_at_budget=int(data["stopped_at_budget"]))
            raise BudgetExceeded(*args)
        if response.status_code == 403 and data.get("code") == "unknown_organization":
            raise UnknownOrganization(message)
        if response.status_code == 422 and data.get("code") == "model_not_found":
            raise UnknownTaskClass(message)
        raise LLMError(f"router service answered {response.status_code}: {message}")

    async def chat(
        self,
        messages: list[Message],
        *,
        task_class: str = "default",
        json_schema: dict[str, Any] | None = None,
        schema_name: str = "result",
        max_tokens: int | None = None,
        temperature: float | None = None,
        facts: dict[str, Any] | None = None,
        context: CallContext | None = None,
        tools: list[dict[str, Any]] | None = None,
        tool_choice: str | dict[str, Any] | None = None,
    ) -> ChatResult:
        body: dict[str, Any] = {
            "messages": messages,
            "task_class": task_class,
            "json_schema": json_schema,
            "schema_name": schema_name,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "facts": facts,
            **self._context(context),
        }
        if tools:
            body["tools"] = tools
            body["tool_choice"] = tool_choice
        return ChatResult(**await self._post("/chat", body))

    async def supports_tools(self, task_class: str) -> bool:
        try:
            response = await self._http.get(f"/routes/{task_class}/tools")
        except httpx.HTTPError as exc:
            raise LLMError(f"router service unreachable: {exc}") from exc
        if response.status_code != 200:
            raise LLMError(f"router service answered {response.status_code}: {response.text}")
        return bool(response.json().get("tools"))

    async def complete(
        self,
        prompt: str,
        *,
        task_class: str = "default",
        max_tokens: int | None = None,
        temperature: float | None = None,
        facts: dict[str, Any] | None = None,
        context: CallContext | None = None,
    ) -> ChatResult:
        data = await self._post(
            "/complete",
            {
                "prompt": prompt,
                "task_class": task_class,
                "max_tokens": max_tokens,
                "temperature": temperature,
                "facts": facts,
                **self._context(context),
            },
        )
        return ChatResult(**data)

    async def embed(
        self, texts: list[str], *, input_type: str = "passage", context: CallContext | None = None
    ) -> EmbedResult:
        data = await self._post(
            "/embed", {"texts": texts, "input_type": input_type, **self._context(context)}
        )
        return EmbedResult(**data)

    async def aclose(self) -> None:
        await self._http.aclose()

"""The router as an HTTP service (port 8002): native and OpenAI-compatible endpoints.

Any OpenAI client can use the router by pointing its base URL at ``http://host:8002/v1``
with the service token as its API key; the ``model`` is a task class (``heavy``, ``light``…)
or ``provider/model``. The organization, agent and task a call is made for travel in the
``X-Phi-Org-Id``, ``X-Phi-Agent-Id``, ``X-Phi-Task-Id`` and ``X-Phi-Task`` headers there,
and in the body of the native endpoints.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.exception_handlers import (
    http_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text
from starlette.types import ASGIApp, Receive, Scope, Send

from phi_llm.accounting import Accountant, NullAccountant, PostgresAccountant
from phi_llm.errors import (
    AllProvidersFailed,
    BudgetExceeded,
    UnknownOrganization,
    UnknownTaskClass,
)
from phi_llm.router import Router
from phi_llm.settings import RouterServiceSettings
from phi_llm.types import CallContext, ChatResult, Message
from phi_service.guards import validation_error_handler
from phi_service.http import install_service_http, serve
from phi_service.observability import ReadinessCheck, database_check, migrations_head

# -- schemas ---------------------------------------------------------------------------


class StrictModel(BaseModel):
    """Unknown fields are refused (422 naming them): a misspelled option must not be dropped
    and the call run without it."""

    model_config = ConfigDict(extra="forbid")


class MessageIn(StrictModel):
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None
    # Parts of OpenAI's message shape that the router does not use but clients send.
    name: str | None = Field(default=None, max_length=256)
    tool_call_id: str | None = Field(default=None, max_length=256)
    tool_calls: list[dict[str, Any]] | None = None

    def as_message(self) -> Message:
        content = self.content
        if isinstance(content, list):
            content = "".join(
                str(part.get("text", "")) for part in content if part.get("type") == "text"
            )
        return {
            "role": "system" if self.role == "developer" else self.role,
            "content": content or "",
        }


class ContextIn(StrictModel):
    org_id: uuid.UUID | None = None
    agent_id: uuid.UUID | None = None
    task_id: uuid.UUID | None = None
    task: str | None = Field(default=None, max_length=100)

    def context(self) -> CallContext:
        return CallContext(self.org_id, self.agent_id, self.task_id, self.task)


class ChatIn(ContextIn):
    messages: list[MessageIn] = Field(min_length=1, max_length=500)
    task_class: str = Field(default="default", min_length=1, max_length=200)
    json_schema: dict[str, Any] | None = None
    schema_name: str = Field(default="result", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    max_tokens: int | None = Field(default=None, ge=1, le=131072)
    temperature: float | None = Field(default=None, ge=0, le=2)
    facts: dict[str, Any] | None = None


class CompleteIn(ContextIn):
    prompt: str = Field(min_length=1, max_length=1_000_000)
    task_class: str = Field(default="default", min_length=1, max_length=200)
    max_tokens: int | None = Field(default=None, ge=1, le=131072)
    temperature: float | None = Field(default=None, ge=0, le=2)
    facts: dict[str, Any] | None = None


class EmbedIn(ContextIn):
    texts: list[str] = Field(min_length=1, max_length=2048)
    input_type: Literal["passage", "query"] = "passage"


class ChatOut(BaseModel):
    content: str
    parsed: Any = None
    provider: str
    model: str
    tokens_in: int
    tokens_out: int
    latency_ms: int
    cost_usd: float
    finish_reason: str
    produced_without_llm: bool

    @classmethod
    def of(cls, r: ChatResult) -> ChatOut:
        return cls(
            content=r.content,
            parsed=r.parsed,
            provider=r.provider,
            model=r.model,
            tokens_in=r.tokens_in,
            tokens_out=r.tokens_out,
            latency_ms=r.latency_ms,
            cost_usd=r.cost_usd,
            finish_reason=r.finish_reason,
            produced_without_llm=r.produced_without_llm,
        )


class EmbedOut(BaseModel):
    vectors: list[list[float]]
    provider: str
    model: str
    dim: int
    tokens_in: int


class ResponseFormat(StrictModel):
    type: Literal["text", "json_object", "json_schema"] = "text"
    json_schema: dict[str, Any] | None = None
    # llama.cpp-style {"type": "json_object", "schema": {...}}
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")


class OpenAIChatIn(StrictModel):
    model: str = Field(min_length=1, max_length=200)
    messages: list[MessageIn] = Field(min_length=1, max_length=500)
    max_tokens: int | None = Field(default=None, ge=1, le=131072)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=131072)
    temperature: float | None = Field(default=None, ge=0, le=2)
    response_format: ResponseFormat | None = None
    stream: bool = False
    n: int = Field(default=1, ge=1, le=1)
    # Sampling and bookkeeping options OpenAI clients send; accepted and not passed on.
    # Anything else (tools, a misspelled response_format...) is refused with 422.
    top_p: float | None = Field(default=None, ge=0, le=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    user: str | None = Field(default=None, max_length=256)
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    stream_options: dict[str, Any] | None = None
    metadata: dict[str, str] | None = None
    store: bool | None = None


class OpenAIEmbeddingsIn(StrictModel):
    model: str = Field(min_length=1, max_length=200)
    input: str | list[str] = Field(min_length=1)
    encoding_format: Literal["float", "base64"] = "float"
    # Not in OpenAI's API: e5-style models embed queries and passages differently.
    input_type: Literal["passage", "query"] = "passage"
    user: str | None = Field(default=None, max_length=256)


# -- errors ----------------------------------------------------------------------------


def _error(request: Request, status: int, message: str, code: str, **extra: Any) -> JSONResponse:
    if request.url.path.startswith("/v1/"):
        # The shape OpenAI clients read their error message from.
        body: dict[str, Any] = {"error": {"message": message, "type": code, "code": code, **extra}}
    else:
        body = {"detail": message, "code": code, **extra}
    return JSONResponse(body, status_code=status)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AllProvidersFailed)
    async def _failed(request: Request, exc: AllProvidersFailed) -> JSONResponse:
        attempts = [
            {
                "provider": a.provider,
                "model": a.model,
                "kind": a.kind,
                "status": a.status,
                "message": a.message,
            }
            for a in exc.attempts
        ]
        code = "provider_unavailable" if exc.http_status == 503 else "provider_error"
        return _error(
            request, exc.http_status, str(exc), code, task_class=exc.task_class, attempts=attempts
        )

    @app.exception_handler(BudgetExceeded)
    async def _budget(request: Request, exc: BudgetExceeded) -> JSONResponse:
        return _error(
            request,
            429,
            str(exc),
            "token_budget_exceeded",
            budget=exc.budget,
            used=exc.used,
            needed=exc.needed,
            org_id=exc.org_id,
        )

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        if request.url.path.startswith("/v1/"):
            return _error(request, exc.status_code, str(exc.detail), "invalid_request_error")
        return await http_exception_handler(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        if request.url.path.startswith("/v1/"):
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            return _error(request, 422, problems, "invalid_request_error")
        return await validation_error_handler(request, exc)

    @app.exception_handler(UnknownOrganization)
    async def _no_org(request: Request, exc: UnknownOrganization) -> JSONResponse:
        return _error(request, 403, str(exc), "unknown_organization")

    @app.exception_handler(UnknownTaskClass)
    async def _unknown(request: Request, exc: UnknownTaskClass) -> JSONResponse:
        status = 404 if request.url.path.startswith("/v1/") else 422
        return _error(request, status, str(exc), "model_not_found")


# -- app -------------------------------------------------------------------------------

PUBLIC_PATHS = frozenset(
    {"/health", "/ready", "/metrics", "/docs", "/openapi.json", "/docs/oauth2-redirect"}
)
# Prompts may be up to 1M characters (4 MB of UTF-8) and chats hold many messages.
MAX_REQUEST_BYTES = 8 * 1024 * 1024


class ServiceTokenMiddleware:
    """Refuses every request without the service token, before its body is even read."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"authorization", b"")
        if secrets.compare_digest(given, self.expected):
            await self.app(scope, receive, send)
            return
        message = "missing or wrong service token (send Authorization: Bearer <token>)"
        if scope["path"].startswith("/v1/"):
            body: dict[str, Any] = {
                "error": {"message": message, "type": "invalid_api_key", "code": "invalid_api_key"}
            }
        else:
            body = {"detail": message}
        response = JSONResponse(body, status_code=401, headers={"WWW-Authenticate": "Bearer"})
        await response(scope, receive, send)


def get_router(request: Request) -> Router:
    return request.app.state.router


RouterDep = Annotated[Router, Depends(get_router)]


def header_context(
    x_phi_org_id: Annotated[uuid.UUID | None, Header()] = None,
    x_phi_agent_id: Annotated[uuid.UUID | None, Header()] = None,
    x_phi_task_id: Annotated[uuid.UUID | None, Header()] = None,
    x_phi_task: Annotated[str | None, Header(max_length=100)] = None,
) -> CallContext:
    return CallContext(x_phi_org_id, x_phi_agent_id, x_phi_task_id, x_phi_task)


def require_payer(request: Request, router: Router, task_class: str, context: CallContext) -> None:
    """Refuse a call that uses model tokens without naming the organization that pays,
    unless the service token is a platform token (see RouterServiceSettings)."""
    if context.org_id is not None or request.app.state.platform_token:
        return
    if task_class == "embed" or any(router.metered(e) for e in router.route(task_class)):
        raise HTTPException(
            403,
            "this call uses model tokens, which are metered per organization: send the paying "
            "organization's id in X-Phi-Org-Id (only a platform token, "
            "PHI_LLM_ROUTER_PLATFORM_TOKEN=true, may call without one)",
        )


def _accountant(settings: RouterServiceSettings) -> tuple[Accountant, Any]:
    if settings.llm_accounting == "none":
        return NullAccountant(), None
    from phi_platform.db.session import create_engine, create_sessionmaker

    engine = create_engine(settings.resolved_database_url, pool_size=5)
    return PostgresAccountant(create_sessionmaker(engine)), engine


def create_app(
    router: Router | None = None,
    *,
    token: str | None = None,
    settings: RouterServiceSettings | None = None,
) -> FastAPI:
    """Build the service. Without ``router``, one is built from the environment at startup."""
    settings = settings or RouterServiceSettings()
    service_token = token or settings.resolved_llm_router_token

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = None
        if router is None:
            accountant, engine = _accountant(settings)
            app.state.router = Router(accountant=accountant)
        else:
            app.state.router = router
        app.state.engine = engine
        try:
            yield
        finally:
            if router is None:
                await app.state.router.aclose()
            if engine is not None:
                await engine.dispose()

    app = FastAPI(title="Phi LLM router", version="0.1.0", lifespan=lifespan)
    app.state.platform_token = settings.llm_router_platform_token
    _install_error_handlers(app)
    app.add_middleware(ServiceTokenMiddleware, token=service_token)

    @app.post("/chat")
    async def chat(body: ChatIn, router: RouterDep) -> ChatOut:
        result = await router.chat(
            [m.as_message() for m in body.messages],
            task_class=body.task_class,
            json_schema=body.json_schema,
            schema_name=body.schema_name,
            max_tokens=body.max_tokens,
            temperature=body.temperature,
            facts=body.facts,
            context=body.context(),
        )
        return ChatOut.of(result)

    @app.post("/complete")
    async def complete(body: CompleteIn, router: RouterDep) -> ChatOut:
        result = await router.complete(
            body.prompt,
            task_class=body.task_class,
            max_tokens=body.max_tokens,
            temperature=body.temperature,
            facts=body.facts,
            context=body.context(),
        )
        return ChatOut.of(result)

    @app.post("/embed")
    async def embed(body: EmbedIn, router: RouterDep) -> EmbedOut:
        result = await router.embed(body.texts, input_type=body.input_type, context=body.context())
        return EmbedOut(
            vectors=result.vectors,
            provider=result.provider,
            model=result.model,
            dim=result.dim,
            tokens_in=result.tokens_in,
        )

    @app.post("/v1/chat/completions")
    async def openai_chat(
        body: OpenAIChatIn,
        request: Request,
        router: RouterDep,
        context: Annotated[CallContext, Depends(header_context)],
    ) -> dict[str, Any]:
        require_payer(request, router, body.model, context)
        if body.stream:
            raise HTTPException(
                422, "stream=true is not supported by the router; send stream=false"
            )
        schema, name = None, "result"
        fmt = body.response_format
        if fmt is not None and fmt.type == "json_schema":
            if not fmt.json_schema or not isinstance(fmt.json_schema.get("schema"), dict):
                raise HTTPException(
                    422, "response_format.json_schema.schema must be a JSON schema object"
                )
            schema, name = fmt.json_schema["schema"], str(fmt.json_schema.get("name") or "result")
        elif fmt is not None and fmt.type == "json_object":
            schema = fmt.schema_ or {"type": "object"}
        result = await router.chat(
            [m.as_message() for m in body.messages],
            task_class=body.model,
            json_schema=schema,
            schema_name=name,
            max_tokens=body.max_completion_tokens or body.max_tokens,
            temperature=body.temperature,
            context=context,
        )
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": f"{result.provider}/{result.model}",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": result.content},
                    "finish_reason": result.finish_reason
                    if result.finish_reason in ("stop", "length")
                    else "stop",
                }
            ],
            "usage": {
                "prompt_tokens": result.tokens_in,
                "completion_tokens": result.tokens_out,
                "total_tokens": result.tokens_in + result.tokens_out,
            },
            "phi": {"task_class": body.model, "produced_without_llm": result.produced_without_llm},
        }

    @app.post("/v1/embeddings")
    async def openai_embeddings(
        body: OpenAIEmbeddingsIn,
        request: Request,
        router: RouterDep,
        context: Annotated[CallContext, Depends(header_context)],
    ) -> dict[str, Any]:
        require_payer(request, router, "embed", context)
        texts = [body.input] if isinstance(body.input, str) else body.input
        if not texts or len(texts) > 2048:
            raise HTTPException(422, "input must hold 1 to 2048 strings")
        result = await router.embed(texts, input_type=body.input_type, context=context)

        def encode(vector: list[float]) -> list[float] | str:
            if body.encoding_format == "base64":
                return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
            return vector

        return {
            "object": "list",
            "data": [
                {"object": "embedding", "index": i, "embedding": encode(v)}
                for i, v in enumerate(result.vectors)
            ],
            "model": result.model,
            "usage": {"prompt_tokens": result.tokens_in, "total_tokens": result.tokens_in},
        }

    @app.get("/v1/models")
    async def openai_models(router: RouterDep) -> dict[str, Any]:
        return {
            "object": "list",
            "data": [
                {"id": name, "object": "model", "created": 0, "owned_by": "phi-llm-router"}
                for name in router.model_names()
            ],
        }

    install_service_http(
        app,
        service="llm-router",
        max_request_bytes=MAX_REQUEST_BYTES,
        checks=[] if settings.llm_accounting == "none" else [_database_ready(app)],
    )
    return app


def _database_ready(app: FastAPI) -> ReadinessCheck:
    async def scalar(sql: str) -> Any:
        engine = app.state.engine
        if engine is None:  # a router given by the caller, with its own accountant
            return migrations_head()
        async with engine.connect() as conn:
            result = await asyncio.wait_for(conn.execute(text(sql)), timeout=3)
            return result.scalar()

    return database_check(scalar)


def run() -> None:
    """Entry point of ``phi-llm-router``: serve on ``PHI_LLM_ROUTER_HOST:PHI_LLM_ROUTER_PORT``."""
    settings = RouterServiceSettings()
    serve(
        create_app(settings=settings),
        service="llm-router",
        host=settings.llm_router_host,
        port=settings.llm_router_port,
    )


if __name__ == "__main__":
    run()

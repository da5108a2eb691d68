"""Router errors mapped to HTTP answers: OpenAI's error shape on /v1, ours elsewhere."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from phi_llm.errors import (
    AllProvidersFailed,
    BudgetExceeded,
    BudgetStopped,
    ResponseOvershoot,
    UnknownOrganization,
    UnknownTaskClass,
)
from phi_service.guards import validation_error_handler


def _error(request: Request, status: int, message: str, code: str, **extra: Any) -> JSONResponse:
    if request.url.path.startswith("/v1/"):
        # The shape OpenAI clients read their error message from.
        body: dict[str, Any] = {"error": {"message": message, "type": code, "code": code, **extra}}
    else:
        body = {"detail": message, "code": code, **extra}
    return JSONResponse(body, status_code=status)


def _attempts(exc: AllProvidersFailed) -> list[dict[str, Any]]:
    return [
        {
            "provider": a.provider,
            "model": a.model,
            "kind": a.kind,
            "status": a.status,
            "message": a.message,
        }
        for a in exc.attempts
    ]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AllProvidersFailed)
    async def _failed(request: Request, exc: AllProvidersFailed) -> JSONResponse:
        code = "provider_unavailable" if exc.http_status == 503 else "provider_error"
        return _error(
            request,
            exc.http_status,
            str(exc),
            code,
            task_class=exc.task_class,
            attempts=_attempts(exc),
        )

    @app.exception_handler(ResponseOvershoot)
    async def _overshoot(request: Request, exc: ResponseOvershoot) -> JSONResponse:
        return _error(
            request,
            502,
            str(exc),
            "overshoot",
            task_class=exc.task_class,
            attempts=_attempts(exc),
            allowed=exc.allowed,
            tokens_in=exc.tokens_in,
            tokens_out=exc.tokens_out,
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
            # Set when the organization's calls are stopped: raise the budget above it.
            stopped_at_budget=exc.stopped_at_budget if isinstance(exc, BudgetStopped) else None,
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

"""Errors the services raise; one handler turns them into JSON responses with a clear detail.

Shared by every HTTP service, so the same mistake gets the same answer everywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError

from phi_service.db import is_connection_lost

logger = logging.getLogger(__name__)


class ApiError(Exception):
    status_code = 400

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers


class NotFound(ApiError):
    status_code = 404


class Forbidden(ApiError):
    status_code = 403


class Conflict(ApiError):
    status_code = 409


class Unauthorized(ApiError):
    status_code = 401

    def __init__(self, detail: str = "not authenticated") -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class TooManyRequests(ApiError):
    status_code = 429


class InvalidInput(ApiError):
    """Input that is well-formed but does not make sense (unknown ids, bad settings)."""

    status_code = 422


def install_error_handlers(app: FastAPI, *, unavailable: Iterable[type[Exception]] = ()) -> None:
    """Map the service errors to JSON answers. ``unavailable``: exception types that mean a
    service the request needs is down (an embedding service...): 503 with their message, so
    a client knows to retry and no route maps them itself."""
    for error_type in unavailable:

        @app.exception_handler(error_type)
        async def _unavailable(_: Request, exc: Exception) -> JSONResponse:
            return JSONResponse(
                {"detail": str(exc) or type(exc).__name__},
                status_code=503,
                headers={"Retry-After": "5"},
            )

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        # Races that slip past the service checks (two identical requests at once).
        return JSONResponse(
            {"detail": "the request conflicts with existing data", "reason": _pg_message(exc)},
            status_code=409,
        )

    @app.exception_handler(psycopg.OperationalError)
    async def _driver(_: Request, exc: psycopg.OperationalError) -> JSONResponse:
        # Raised by reads on the driver connection itself (Database.single_statement).
        if is_connection_lost(exc):
            return _database_unavailable()
        raise exc

    @app.exception_handler(DBAPIError)
    async def _dbapi(_: Request, exc: DBAPIError) -> JSONResponse:
        # Values PostgreSQL refuses (out-of-range numbers, NUL bytes in text): the input
        # was at fault, not the server.
        sqlstate = getattr(exc.orig, "sqlstate", "") or ""
        if sqlstate.startswith("40"):
            # A deadlock or serialization failure that the route did not retry: nothing was
            # kept, and the same request can succeed a moment later.
            return JSONResponse(
                {"detail": "the request collided with a concurrent change; retry in a moment"},
                status_code=503,
                headers={"Retry-After": "1"},
            )
        if exc.connection_invalidated or isinstance(exc, OperationalError):
            # The pool drops the broken connection; the next request gets a fresh one.
            return _database_unavailable()
        if sqlstate.startswith("22") or isinstance(exc, DataError):
            return JSONResponse(
                {"detail": "invalid value in request", "reason": _pg_message(exc)}, status_code=422
            )
        # Any other refusal (a trigger's exception, a server limit): the server's fault, not
        # the request's. Answered here rather than raised on: an error uvicorn sees after
        # Starlette's 500 has started makes it close the connection, and a client could read
        # a reset instead of the answer.
        logger.error("database error (sqlstate %s)", sqlstate or "none", exc_info=exc)
        return JSONResponse({"detail": "internal error"}, status_code=500)


def _database_unavailable() -> JSONResponse:
    return JSONResponse(
        {"detail": "the database is unavailable; retry in a moment"},
        status_code=503,
        headers={"Retry-After": "1"},
    )


def _pg_message(exc: DBAPIError) -> Any:
    diag = getattr(exc.orig, "diag", None)
    return getattr(diag, "message_primary", None) or str(exc.orig).splitlines()[0]

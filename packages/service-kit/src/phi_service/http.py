"""What every HTTP service installs on its app, and how it is served.

``install_service_http`` puts the input guards (body cap, unstorable JSON, safe validation
errors: :mod:`phi_service.guards`) and the observability layer (request ids, JSON access log,
metrics, ``/health``, ``/ready``, ``/metrics``: :mod:`phi_service.observability`) on an app;
``serve`` runs it with uvicorn logging JSON lines through the same formatter.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from fastapi import FastAPI
from starlette.types import Scope

from phi_service.guards import install_input_guards
from phi_service.observability import (
    ReadinessCheck,
    configure_logging,
    database_check,
    install_observability,
)
from phi_service.settings import MetricsSettings

DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024


def install_service_http(
    app: FastAPI,
    *,
    service: str,
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
    exempt_from_cap: Callable[[Scope], bool] | None = None,
    checks: Iterable[ReadinessCheck] = (),
    collectors: Iterable[Callable[[], Awaitable[None]]] = (),
    metrics: MetricsSettings | None = None,
) -> None:
    """Install after the app's own middlewares and routers (these wrap everything).
    ``metrics`` (the service's settings) says who may read ``/metrics`` and where."""
    install_input_guards(app, max_bytes=max_request_bytes, exempt=exempt_from_cap)
    install_observability(app, service, checks, collectors, metrics)


def app_database_check(app: FastAPI, attribute: str = "db") -> ReadinessCheck:
    """Readiness of the ``phi_service.db.Database`` kept at ``app.state.<attribute>``: it
    answers within 3 s and its migrations are at the head revision."""
    from sqlalchemy import text

    async def scalar(sql: str) -> Any:
        database = getattr(app.state, attribute)
        async with database.sessionmaker() as session:
            result = await asyncio.wait_for(session.execute(text(sql)), timeout=3)
            return result.scalar()

    return database_check(scalar)


def serve(app: FastAPI, *, service: str, host: str, port: int) -> None:
    """Run ``app`` with uvicorn, every log line (uvicorn's included) as JSON on stdout."""
    import uvicorn

    configure_logging(service)
    # proxy_headers off: each app applies its own trusted proxies (PHI_TRUSTED_PROXIES);
    # uvicorn's default would trust X-Forwarded-For from 127.0.0.1 whatever they are.
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False, proxy_headers=False)

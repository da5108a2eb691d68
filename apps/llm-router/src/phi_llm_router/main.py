"""Builds the router service; ``python -m phi_llm_router.main`` serves it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy import text

from phi_llm.accounting import Accountant, NullAccountant, PostgresAccountant
from phi_llm.router import Router
from phi_llm_router.auth import MAX_REQUEST_BYTES, ServiceTokenMiddleware
from phi_llm_router.errors import install_error_handlers
from phi_llm_router.routes import router as routes
from phi_llm_router.settings import RouterServiceSettings
from phi_service.http import install_service_http, serve
from phi_service.observability import ReadinessCheck, database_check, migrations_head


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
    install_error_handlers(app)
    app.add_middleware(ServiceTokenMiddleware, token=service_token)
    app.include_router(routes)

    install_service_http(
        app,
        service="llm-router",
        max_request_bytes=MAX_REQUEST_BYTES,
        checks=[] if settings.llm_accounting == "none" else [_database_ready(app)],
        metrics=settings,
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

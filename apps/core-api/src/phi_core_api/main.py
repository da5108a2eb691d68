"""Builds the core API application."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from phi_core_api.admin.routes import router as admin_router
from phi_core_api.agents.routes import router as agents_router
from phi_core_api.audit.routes import router as audit_router
from phi_core_api.auth.routes import router as auth_router
from phi_core_api.catalog.routes import router as catalog_router
from phi_core_api.documents.routes import router as documents_router
from phi_core_api.documents.runtime import documents_lifespan
from phi_core_api.documents.upload_limit import UploadSizeLimit, is_upload
from phi_core_api.invitations.routes import router as invitations_router
from phi_core_api.memories.routes import router as memories_router
from phi_core_api.orgs.routes import router as orgs_router
from phi_core_api.profiles.routes import router as profiles_router
from phi_core_api.settings import CoreApiSettings, get_settings
from phi_llm.embeddings import EmbeddingError
from phi_service.db import Database
from phi_service.errors import install_error_handlers
from phi_service.http import app_database_check, install_service_http, serve
from phi_service.observability import queue_depth_collector


def create_app(settings: CoreApiSettings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Read (or create) the signing secret now: a secret file open to other users stops
        # the start with its name, instead of the first sign-in failing.
        settings.resolved_jwt_secret  # noqa: B018
        app.state.db = Database(
            settings.resolved_database_url, settings.db_pool_size, settings.db_application_name
        )
        try:
            async with documents_lifespan(app, settings):
                yield
        finally:
            await app.state.db.dispose()

    app = FastAPI(
        title="Phi Agents core API",
        version="0.1.0",
        description=(
            "Sign up with POST /auth/signup, then click Authorize and paste the access token. "
            "Create an organization, pick an industry and role from the catalog, create an agent."
        ),
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app, unavailable=[EmbeddingError])
    app.add_middleware(UploadSizeLimit, max_bytes=settings.max_upload_bytes)
    if settings.trusted_proxy_list:
        # Outermost, so everything inside sees the forwarded client.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxy_list)
    for router in (
        auth_router,
        orgs_router,
        invitations_router,
        catalog_router,
        agents_router,
        documents_router,
        memories_router,
        profiles_router,
        audit_router,
        admin_router,
    ):
        app.include_router(router)

    install_service_http(
        app,
        service="core-api",
        max_request_bytes=settings.max_request_bytes,
        exempt_from_cap=is_upload,
        checks=[app_database_check(app)],
        collectors=[_queue_depth(app)],
        metrics=settings,
    )
    return app


def _queue_depth(app: FastAPI) -> Callable[[], Awaitable[None]]:
    async def refresh() -> None:
        await queue_depth_collector(app.state.jobs)()

    return refresh


def run() -> None:
    settings = get_settings()
    serve(
        create_app(settings),
        service="core-api",
        host=settings.core_api_host,
        port=settings.core_api_port,
    )


if __name__ == "__main__":
    run()

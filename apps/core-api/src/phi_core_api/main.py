"""Builds the core API application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import text

from phi_core_api.admin.routes import router as admin_router
from phi_core_api.agents.routes import router as agents_router
from phi_core_api.auth.routes import router as auth_router
from phi_core_api.catalog.routes import router as catalog_router
from phi_core_api.documents.routes import router as documents_router
from phi_core_api.documents.runtime import documents_lifespan
from phi_core_api.documents.upload_limit import UploadSizeLimit
from phi_core_api.orgs.routes import router as orgs_router
from phi_core_api.profiles.routes import router as profiles_router
from phi_core_api.settings import CoreApiSettings, get_settings
from phi_service.db import Database
from phi_service.deps import SessionDep
from phi_service.errors import install_error_handlers


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
    install_error_handlers(app)
    app.add_middleware(UploadSizeLimit, max_bytes=settings.max_upload_bytes)
    for router in (
        auth_router,
        orgs_router,
        catalog_router,
        agents_router,
        documents_router,
        profiles_router,
        admin_router,
    ):
        app.include_router(router)

    @app.get("/health", tags=["health"])
    async def health(session: SessionDep) -> dict[str, str]:
        await session.execute(text("SELECT 1"))
        return {"status": "ok"}

    return app


def run() -> None:
    import uvicorn

    settings = get_settings()
    uvicorn.run(
        create_app(settings),
        host=settings.core_api_host,
        port=settings.core_api_port,
        log_level="info",
    )


if __name__ == "__main__":
    run()

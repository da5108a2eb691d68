"""Builds the orchestrator application (port 8001)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from phi_orchestrator.admin.routes import router as admin_router
from phi_orchestrator.deliveries.routes import router as deliveries_router
from phi_orchestrator.jobs import create_orchestrator_jobs
from phi_orchestrator.local_agents.routes import router as local_agents_router
from phi_orchestrator.notify import Notifier
from phi_orchestrator.results.routes import router as results_router
from phi_orchestrator.settings import OrchestratorSettings, get_settings
from phi_orchestrator.tasks.routes import router as tasks_router
from phi_orchestrator.tool_calls.routes import router as tool_calls_router
from phi_service.db import Database
from phi_service.errors import install_error_handlers
from phi_service.http import app_database_check, install_service_http, serve


def create_app(settings: OrchestratorSettings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.db = Database(
            settings.resolved_database_url, settings.db_pool_size, settings.db_application_name
        )
        app.state.notifier = Notifier(settings.libpq_database_url)
        await app.state.notifier.start()
        jobs = create_orchestrator_jobs(settings)
        app.state.jobs = jobs
        try:
            async with jobs.open_async():
                yield
        finally:
            await app.state.notifier.stop()
            await app.state.db.dispose()

    app = FastAPI(
        title="Phi Agents orchestrator",
        version="0.1.0",
        description=(
            "Runs agents' workflows as tasks and talks to their local agents. Log in on the "
            "core API (POST /auth/login), click Authorize and paste the access token under "
            "HTTPBearer. Then POST /agents/{agent_id}/run-task with "
            '`{"type": "DAILY_WAREHOUSE_REPORT", "input": {"data_source": "sample"}}` and '
            "follow GET /tasks/{task_id}/events/stream, or open /watch to see the events arrive "
            "live in the browser. Local-agent routes take a local-agent "
            "key (LocalAgentKey); see docs/local-agent-protocol.md."
        ),
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    for router in (
        tasks_router,
        results_router,
        deliveries_router,
        local_agents_router,
        tool_calls_router,
        admin_router,
    ):
        app.include_router(router)

    # Body cap, hostile JSON, request ids, JSON access log, /health, /ready, /metrics.
    install_service_http(
        app,
        service="orchestrator",
        # Tool results have their own, larger cap (tool_result_max_bytes), read by the route.
        exempt_from_cap=lambda scope: scope["path"] == "/tool-callbacks",
        checks=[app_database_check(app)],
        metrics=settings,
    )
    return app


def run() -> None:
    settings = get_settings()
    serve(
        create_app(settings),
        service="orchestrator",
        host=settings.orchestrator_host,
        port=settings.orchestrator_port,
    )


if __name__ == "__main__":
    run()

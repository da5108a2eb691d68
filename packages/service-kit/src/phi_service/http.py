"""What every HTTP service installs on its app, and how it is served.

``install_service_http`` puts the input guards (body cap, unstorable JSON, safe validation
errors: :mod:`phi_service.guards`) and the observability layer (request ids, JSON access log,
metrics, ``/health``, ``/ready``, ``/metrics``: :mod:`phi_service.observability`) on an app;
``serve`` runs it with uvicorn logging JSON lines through the same formatter.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
import sys
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from fastapi import FastAPI
from starlette.types import Scope

from phi_service.guards import install_input_guards
from phi_service.memory import limit_malloc_arenas, trim_memory_periodically
from phi_service.observability import (
    ReadinessCheck,
    configure_logging,
    database_check,
    install_observability,
)
from phi_service.settings import MetricsSettings

DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024
YOUNG_GC_THRESHOLD = 5000


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


def freeze_startup_heap() -> None:
    """Collect once, then move every object alive now out of the garbage collector's sight.

    What a service holds after its start (modules, routes, schemas, the database engine:
    hundreds of thousands of objects) lives as long as the process, yet each collection of
    the oldest generation walks all of it again; on the agents listing that was a third of
    the API's CPU per request (docs/benchmarks.md, issue 24). Frozen objects are never
    collected, so only call this once the start is done, in the service's own process.

    The youngest generation is also collected every 5,000 allocations instead of 700: one
    listing of 50 agents allocates more than 700 objects, so each request paid for a young
    collection (another 10 % of the CPU per request); what waits longer is at most a few
    thousand short-lived objects."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_GC_THRESHOLD, *gc.get_threshold()[1:])


def serve(app: FastAPI, *, service: str, host: str, port: int) -> None:
    """Run ``app`` with uvicorn, every log line (uvicorn's included) as JSON on stdout; once
    the app's lifespan has started, freeze the start-up heap (``freeze_startup_heap``). Two
    malloc arenas at most, free memory handed back every 30 s (``phi_service.memory``)."""
    import uvicorn

    class Server(uvicorn.Server):
        trimming: asyncio.Task[None] | None = None

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            freeze_startup_heap()
            self.trimming = asyncio.create_task(trim_memory_periodically())

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            if self.trimming is not None:
                self.trimming.cancel()
            await super().shutdown(sockets)

    limit_malloc_arenas()
    configure_logging(service)
    # proxy_headers off: each app applies its own trusted proxies (PHI_TRUSTED_PROXIES);
    # uvicorn's default would trust X-Forwarded-For from 127.0.0.1 whatever they are.
    config = uvicorn.Config(
        app, host=host, port=port, log_config=None, access_log=False, proxy_headers=False
    )
    server = Server(config)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    if not server.started:  # as uvicorn.run: a failed start ends the process with status 3
        sys.exit(3)

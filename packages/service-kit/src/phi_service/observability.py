"""Logs, metrics and health endpoints every service and worker shares.

* **JSON logs** on stdout, one object a line (:func:`configure_logging`), with the ids of
  what the line is about: ``request_id`` (taken from the ``X-Request-ID`` header or made up,
  and returned in the response), ``org_id``/``agent_id``/``document_id``/``task_id`` from the
  route's path or bound by the code (:func:`bind`), and in workers ``job_id`` and ``task``.
  A job queued during a request carries that request's ids (:func:`job_log_fields`, popped by
  the worker's middleware), so an operator can follow one upload from the API to its worker.
* **Prometheus metrics** (prometheus-client, default registry): requests by route and status
  with their latency, jobs by task and outcome with their duration; services add their own
  (queue depth, ingestion seconds, LLM calls) in their modules. ``GET /metrics`` on each
  service, and on the worker's small HTTP server.
* **Health**: ``GET /health`` answers while the process runs; ``GET /ready`` also checks that
  the database answers within 3 s and that its migrations are at the head revision (503
  otherwise).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import re
import secrets
import socket
import sys
import time
import traceback
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from phi_service.settings import MetricsSettings

REQUEST_ID_HEADER = "X-Request-ID"
# Ids a log line may carry; path parameters of these names are picked up by themselves.
ID_FIELDS = (
    "request_id",
    "user_id",
    "org_id",
    "agent_id",
    "document_id",
    "task_id",
    "job_id",
    "task",
)
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

_fields: ContextVar[dict[str, Any] | None] = ContextVar("phi_log_fields", default=None)

HTTP_REQUESTS = Counter(
    "phi_http_requests_total",
    "HTTP requests answered, by route template and status code",
    ["service", "method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "phi_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template",
    ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
JOBS = Counter("phi_jobs_total", "Background jobs run, by task and outcome", ["task", "outcome"])
JOB_SECONDS = Histogram(
    "phi_job_duration_seconds",
    "Time a background job ran, by task",
    ["task"],
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900),
)

QUEUE_DEPTH = Gauge(
    "phi_queue_jobs", "Jobs waiting (todo) or running (doing), by queue", ["queue", "status"]
)


def queue_depth_collector(job_app: Any) -> Callable[[], Awaitable[None]]:
    """Refreshes ``phi_queue_jobs`` from the procrastinate tables (for ``/metrics``)."""

    async def refresh() -> None:
        rows = await job_app.connector.execute_query_all_async(
            "SELECT queue_name, status::text AS status, count(*) AS n FROM procrastinate_jobs "
            "WHERE status IN ('todo', 'doing') GROUP BY queue_name, status"
        )
        QUEUE_DEPTH.clear()
        for row in rows:
            QUEUE_DEPTH.labels(row["queue_name"], row["status"]).set(row["n"])

    return refresh


# -- log context ------------------------------------------------------------------------


def bind(**ids: Any) -> None:
    """Add ids to every log line of the current request or job (and of jobs it queues)."""
    current = _fields.get()
    values = {k: str(v) for k, v in ids.items() if v is not None}
    if current is None:
        _fields.set(values)
    else:
        current.update(values)


def current_fields() -> dict[str, str]:
    """The ids known in this context: bound ones and the current route's path parameters."""
    current = _fields.get()
    if current is None:
        return {}
    out = {k: v for k, v in current.items() if not k.startswith("_")}
    scope = current.get("_scope")
    if scope is not None:
        for name, value in (scope.get("path_params") or {}).items():
            if name in ID_FIELDS and name not in out:
                out[name] = str(value)
    return out


def client_address() -> str | None:
    """The address of the current request's client (the forwarded one behind a trusted
    proxy), or None outside a request."""
    current = _fields.get()
    scope = current.get("_scope") if current else None
    client = scope.get("client") if scope else None
    return str(client[0]) if client else None


def job_log_fields() -> dict[str, str]:
    """Pass as the ``_log`` keyword when queueing a job: the worker logs the job's lines with
    these ids (the request's id, org, agent...) and removes the keyword before the task runs."""
    return {k: v for k, v in current_fields().items() if k not in ("job_id", "task")}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(current_fields())
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            entry.update(extra)
        if record.exc_info:
            entry["exc"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(service: str, level: int = logging.INFO) -> None:
    """JSON lines on stdout for this process's loggers (uvicorn's and procrastinate's too)."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Our middleware writes one line per request, with its ids; uvicorn's would repeat it.
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("procrastinate").setLevel(logging.WARNING)


# -- HTTP -------------------------------------------------------------------------------

access_log = logging.getLogger("phi.access")
QUIET_PATHS = frozenset({"/health", "/ready", "/metrics"})


class RequestObservability:
    """Outermost ASGI middleware: request id in and out, one access log line, metrics."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                given = value.decode("latin-1")
                break
        request_id = given if _VALID_REQUEST_ID.match(given) else uuid.uuid4().hex
        fields: dict[str, Any] = {"request_id": request_id, "_scope": scope}
        token = _fields.set(fields)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "<unmatched>"
            method = scope["method"]
            HTTP_REQUESTS.labels(self.service, method, template, str(status)).inc()
            HTTP_LATENCY.labels(self.service, method, template).observe(seconds)
            level = logging.DEBUG if scope["path"] in QUIET_PATHS else logging.INFO
            access_log.log(
                level,
                "%s %s %d %.1f ms",
                method,
                scope["path"],
                status,
                seconds * 1000,
                extra={
                    "fields": {
                        "method": method,
                        "route": template,
                        "status": status,
                        "duration_ms": round(seconds * 1000, 1),
                    }
                },
            )
            _fields.reset(token)


ReadinessCheck = Callable[[], Awaitable[str | None]]


def health_router(
    checks: Iterable[ReadinessCheck] = (),
    collectors: Iterable[Callable[[], Awaitable[None]]] = (),
    *,
    metrics: bool = True,
    metrics_token: str | None = None,
) -> APIRouter:
    """``/health``, ``/ready`` and (``metrics``) ``/metrics``. Each readiness check returns
    None when fine, else what is wrong; each collector refreshes gauges just before
    ``/metrics`` answers."""
    router = APIRouter(tags=["health"])
    readiness = list(checks)

    @router.get("/health")
    async def health() -> dict[str, str]:
        """The process is up (it answers); says nothing about the database."""
        return {"status": "ok"}

    @router.get("/ready")
    async def ready(response: Response) -> dict[str, Any]:
        """The database answers and its migrations are at the head revision."""
        problems = [p for p in [await check() for check in readiness] if p]
        if problems:
            response.status_code = 503
            response.headers["Retry-After"] = "1"
            return {"status": "unavailable", "problems": problems}
        return {"status": "ok"}

    if metrics:
        router.include_router(metrics_router(collectors, metrics_token))
    return router


def metrics_router(
    collectors: Iterable[Callable[[], Awaitable[None]]] = (), token: str | None = None
) -> APIRouter:
    """``GET /metrics`` (Prometheus text); with ``token``, only for ``Bearer <token>``."""
    router = APIRouter(tags=["health"])
    refreshers = list(collectors)
    expected = f"Bearer {token}".encode() if token else None

    @router.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        if expected is not None:
            given = request.headers.get("authorization", "").encode()
            if not secrets.compare_digest(given, expected):
                return JSONResponse(
                    {"detail": "metrics need the metrics token (Authorization: Bearer ...)"},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
        for refresh in refreshers:
            try:
                await refresh()
            except Exception:  # a gauge that cannot be refreshed keeps its last value
                logging.getLogger(__name__).warning("metrics collector failed", exc_info=True)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


def install_observability(
    app: FastAPI,
    service: str,
    checks: Iterable[ReadinessCheck] = (),
    collectors: Iterable[Callable[[], Awaitable[None]]] = (),
    metrics: MetricsSettings | None = None,
) -> None:
    """Request ids, access log and metrics middleware, plus /health, /ready and /metrics
    (on a port of its own when ``metrics.metrics_port`` is set, see :class:`MetricsSettings`).
    Call last, after the other middlewares, so it wraps them all."""
    collectors = list(collectors)
    token = metrics.metrics_token if metrics else None
    separate = bool(metrics and metrics.metrics_port)
    app.include_router(health_router(checks, collectors, metrics=not separate, metrics_token=token))
    app.add_middleware(RequestObservability, service=service)
    if separate:
        assert metrics is not None
        _serve_metrics_beside(app, service, metrics, collectors)


def _serve_metrics_beside(
    app: FastAPI,
    service: str,
    metrics: MetricsSettings,
    collectors: list[Callable[[], Awaitable[None]]],
) -> None:
    """Serve ``/metrics`` on ``metrics_host:metrics_port`` while the app runs (its lifespan)."""
    page = FastAPI(title=f"{service} metrics", openapi_url=None, docs_url=None, redoc_url=None)
    page.include_router(metrics_router(collectors, metrics.metrics_token))
    app_lifespan = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app_: Any) -> AsyncIterator[Any]:
        server = await serve_page(page, metrics.metrics_host, metrics.metrics_port, service)
        try:
            async with app_lifespan(app_) as state:
                yield state
        finally:
            if server is not None:
                await server.stop()

    app.router.lifespan_context = lifespan


@dataclass
class BackgroundPage:
    """A small app served beside the process's main work (see :func:`serve_page`)."""

    server: Any  # uvicorn.Server
    task: asyncio.Task[None]

    async def stop(self) -> None:
        self.server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(self.task), timeout=5)


async def serve_page(page: FastAPI, host: str, port: int, name: str) -> BackgroundPage | None:
    """Serve a small app (a health or metrics page) on ``host:port`` in the background, or
    None when the port is taken (logged: the process runs without the page).

    The socket is bound here, not by uvicorn: uvicorn meets a taken port with sys.exit,
    which from a task of the running event loop ends the whole process."""
    import uvicorn

    log = logging.getLogger(__name__)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        log.warning(
            "%s: no page: port %d is not free on %s (%s); running without it",
            name,
            port,
            host,
            exc.strerror or exc,
        )
        return None
    server = uvicorn.Server(
        uvicorn.Config(page, host=host, port=port, log_config=None, access_log=False)
    )
    # uvicorn's serve() swaps in its own SIGINT/SIGTERM handlers and raises the signal again
    # when it ends; the process's own handlers must stay in charge.
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]

    async def serve() -> None:
        try:
            await server.serve(sockets=[sock])
        except (Exception, SystemExit) as exc:  # uvicorn exits on any start-up failure
            log.warning("%s: page on %s:%d stopped: %r", name, host, port, exc)
        finally:
            sock.close()

    return BackgroundPage(server, asyncio.create_task(serve(), name=f"{name} page"))


# -- readiness checks -------------------------------------------------------------------


@functools.cache
def migrations_head() -> str:
    """The head revision of the platform's migrations (read from the scripts, no database)."""
    from alembic.script import ScriptDirectory

    from phi_platform.db.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config("postgresql://unused")).get_current_head()
    return str(head)


# How long /ready waits for the database before calling it unreachable.
READY_TIMEOUT_SECONDS = 3.0


def _ignore_outcome(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved, so that asyncio does not log it as never retrieved


def database_check(run_scalar: Callable[[str], Awaitable[Any]]) -> ReadinessCheck:
    """A readiness check from a function that runs one SQL query and returns its value."""

    async def check() -> str | None:
        head = migrations_head()
        # Bounded: a pool waiting for a connection to a dead server waits 30 s, and a
        # readiness probe that hangs is read as "still fine" by whoever gives up first. The
        # query is not waited for once the time is up: cancelling it can itself hang on a
        # dead link (psycopg sends the server a cancel request).
        query = asyncio.ensure_future(run_scalar("SELECT version_num FROM alembic_version"))
        done, _ = await asyncio.wait({query}, timeout=READY_TIMEOUT_SECONDS)
        if not done:
            query.cancel()
            query.add_done_callback(_ignore_outcome)
            return f"database unreachable (no answer within {READY_TIMEOUT_SECONDS:g} s)"
        try:
            version = query.result()
        except Exception as exc:
            return f"database unreachable ({type(exc).__name__})"
        if version != head:
            return f"database at migration {version}, code expects {head}"
        return None

    return check


# -- jobs -------------------------------------------------------------------------------

job_log = logging.getLogger("phi.jobs")


async def job_observability(
    call_next: Callable[[], Awaitable[Any]], context: Any, worker: Any
) -> Any:
    """procrastinate worker middleware: the job's ids on its log lines, and job metrics."""
    job = context.job
    given = job.task_kwargs.pop("_log", None)
    fields: dict[str, Any] = dict(given) if isinstance(given, dict) else {}
    for name in ID_FIELDS:
        if name in job.task_kwargs and name not in fields:
            fields[name] = str(job.task_kwargs[name])
    fields.update({"job_id": str(job.id), "task": job.task_name})
    token = _fields.set(fields)
    job_log.info("job %s started (attempt %d)", job.task_name, job.attempts + 1)
    started = time.perf_counter()
    outcome = "failed"
    try:
        result = await call_next()
        outcome = "succeeded"
        return result
    except BaseException as exc:
        outcome = "aborted" if type(exc).__name__ in ("JobAborted", "CancelledError") else outcome
        raise
    finally:
        seconds = time.perf_counter() - started
        JOBS.labels(job.task_name, outcome).inc()
        JOB_SECONDS.labels(job.task_name).observe(seconds)
        job_log.info(
            "job %s %s in %.2f s",
            job.task_name,
            outcome,
            seconds,
            extra={"fields": {"outcome": outcome, "duration_s": round(seconds, 3)}},
        )
        _fields.reset(token)

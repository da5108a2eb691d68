"""Process supervisor behind `make dev`.

Runs the embedded PostgreSQL (unless DATABASE_URL names a server) as a child process, applies
migrations, loads the catalog, then runs every service in SERVICES as a child process with its
output prefixed and copied to $PHI_DATA_DIR/logs/.

A child that exits on its own (a crash, kill -9, an out-of-memory kill) is started again after
a backoff that doubles with each quick failure (0.5 s up to 30 s) and resets once the child
has stayed up for a minute; no child is restarted more than MAX_RESTARTS_PER_MINUTE times in
any minute. Every restart is logged. Only Ctrl-C or SIGTERM stops the stack: the services
first, then the database.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

warnings.filterwarnings("ignore", module="platformdirs")

from phi_platform.cli import embedded  # noqa: E402
from phi_platform.settings import PlatformSettings  # noqa: E402


@dataclass
class Service:
    name: str
    module: str
    port_env: str | None = None
    default_port: int | None = None
    args: list[str] = field(default_factory=list)
    # A non-Python service names its whole command line instead of a module.
    command: list[str] | None = None
    # The variable the process reads its port from, when it is not port_env (the workers
    # all read PHI_WORKER_METRICS_PORT, each is given its own).
    port_as: str | None = None
    # Serves /health, /ready and /metrics on its port (phi_service).
    observable: bool = True
    # Variables the process gets unless this environment sets them already.
    defaults: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str] | None:
        port = self.port()
        own_port = self.port_as is not None and port is not None
        if not own_port and not self.defaults:
            return None  # this environment as it is
        env = {**self.defaults, **os.environ}
        if own_port:
            env[str(self.port_as)] = str(port)
        return env

    def argv(self) -> list[str]:
        if self.command is not None:
            return [part.format(port=self.port()) for part in self.command]
        return [sys.executable, "-m", self.module, *self.args]

    def port(self) -> int | None:
        if self.port_env is None:
            return None
        return int(os.environ.get(self.port_env, self.default_port or 0))


# Every long-running process of the platform; later services are added here.
SERVICES = [
    Service("core-api", "phi_core_api.main", "PHI_CORE_API_PORT", 8000),
    # Background jobs (document ingestion); start more by hand with `python -m phi_core_api.worker`.
    Service(
        "worker",
        "phi_core_api.worker",
        "PHI_CORE_WORKER_PORT",
        8003,
        port_as="PHI_WORKER_METRICS_PORT",
    ),
    # Tasks, workflows and the local-agent protocol; its workers run the workflows (start more
    # with `python -m phi_orchestrator.worker`).
    Service("orchestrator", "phi_orchestrator.main", "PHI_ORCHESTRATOR_PORT", 8001),
    Service(
        "orchestrator-worker",
        "phi_orchestrator.worker",
        "PHI_ORCHESTRATOR_WORKER_PORT",
        8004,
        port_as="PHI_WORKER_METRICS_PORT",
    ),
    # LLM router for other services and any OpenAI client (base URL http://host:8002/v1).
    Service("llm-router", "phi_llm_router.main", "PHI_LLM_ROUTER_PORT", 8002),
]

# The web app's production build (`make dev` runs `next build` first); it reaches the services
# through PHI_CORE_API_PORT / PHI_ORCHESTRATOR_PORT, inherited from this environment.
WEB_DIR = Path(__file__).resolve().parents[2] / "apps" / "web"
# glibc's malloc for Node.js (deploy/web.Dockerfile sets the same): blocks of 64 KB and more
# are mapped on their own and unmapped when freed, two arenas at most. By default glibc raises
# that threshold to the largest block freed so far, and Next.js holds a whole request body as
# the 64 KB chunks it arrived in: after 20 MB uploads the web server kept 70-115 MB in its
# heaps for good (docs/benchmarks.md, issue 24).
WEB_MALLOC = {"MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_ARENA_MAX": "2"}
WEB = Service(
    "web",
    "",
    "PHI_WEB_PORT",
    3000,
    observable=False,
    # server.mjs, not `next start`: it appends the browser's address to
    # X-Forwarded-For, which core-api believes from 127.0.0.1 (set_trusted_proxies).
    command=["node", str(WEB_DIR / "server.mjs"), "--port", "{port}", "--hostname", "127.0.0.1"],
    defaults=WEB_MALLOC,
)
if (WEB_DIR / ".next" / "BUILD_ID").exists():
    SERVICES.append(WEB)

# The embedded PostgreSQL's port (PlatformSettings.pg_port).
PG_PORT_VARIABLE = "PHI_PG_PORT"
PG_DEFAULT_PORT: int = PlatformSettings.model_fields["pg_port"].default


def default_ports() -> dict[str, int]:
    """Every port the stack binds, by the variable that moves it, with its default: the
    embedded PostgreSQL's, each service's and each worker's health page's."""
    ports = {PG_PORT_VARIABLE: PG_DEFAULT_PORT}
    for service in [*SERVICES, WEB]:
        if service.port_env and service.default_port:
            ports[service.port_env] = service.default_port
    return ports


def port_variables(choose: Callable[[], int]) -> dict[str, str]:
    """The environment that moves every port of the stack to one given by ``choose``: how a
    test starts a whole stack beside another (a developer's `make dev`) without meeting it."""
    return {name: str(choose()) for name in default_ports()}


def set_trusted_proxies(environ: dict[str, str]) -> None:
    """Let core-api believe X-Forwarded-For from loopback, unless PHI_TRUSTED_PROXIES is set.
    Every browser reaches core-api through the web server beside it, on 127.0.0.1: without
    this, core-api would count every user's failed sign-ins against that one address, and one
    person guessing passwords would lock everyone out of signing in. The price is that any
    process of this machine may name a client address to core-api; that is fine for a
    development stack, not for a server where core-api's port is reachable by others."""
    environ.setdefault("PHI_TRUSTED_PROXIES", "127.0.0.1")


def set_public_urls(environ: dict[str, str]) -> None:
    """Give core-api the orchestrator's URL on the port this stack uses, unless one is set:
    it is written into the config files local agents download, which must point at the
    orchestrator that actually runs."""
    port = environ.get("PHI_ORCHESTRATOR_PORT", "8001")
    environ.setdefault("PHI_ORCHESTRATOR_URL", f"http://localhost:{port}")


MAX_RESTARTS_PER_MINUTE = 5
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 30.0
# A child that stayed up this long was healthy: its next failure starts the backoff afresh.
HEALTHY_AFTER = 60.0


def log(message: str) -> None:
    sys.stdout.write(f"[dev] {time.strftime('%H:%M:%S')} {message}\n")
    sys.stdout.flush()


def _pump(name: str, stream, logfile: Path) -> None:  # type: ignore[no-untyped-def]
    with logfile.open("a") as out:
        for line in iter(stream.readline, ""):
            sys.stdout.write(f"[{name}] {line}")
            sys.stdout.flush()
            out.write(line)
            out.flush()


class Child:
    """One supervised process: started, watched, restarted with backoff, stopped."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        logs: Path,
        *,
        prepare: Callable[[], object] | None = None,
        user: str | None = None,
        stop_signal: int = signal.SIGTERM,
        where: str = "",
        env: dict[str, str] | None = None,
    ) -> None:
        self.env = env
        self.name = name
        self.argv = argv
        self.prepare = prepare
        self.logfile = logs / f"{name}.log"
        self.user = user
        self.stop_signal = stop_signal
        self.where = where
        self.proc: subprocess.Popen[str] | None = None
        self.started_at = 0.0
        self.failures = 0  # consecutive quick failures, for the backoff
        self.restarts: deque[float] = deque()  # monotonic times of restarts in the last minute
        self.restart_at: float | None = None

    def start(self) -> None:
        if self.prepare is not None:
            try:
                self.prepare()
            except Exception as exc:
                log(f"could not start {self.name}: {exc}")
                self.started_at = time.monotonic()
                self._schedule_restart(1)
                return
        self.proc = subprocess.Popen(
            self.argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            user=self.user,
            env=self.env,
            # Own session: a terminal Ctrl-C reaches only this supervisor, which then stops
            # the children in order.
            start_new_session=True,
        )
        self.started_at = time.monotonic()
        threading.Thread(
            target=_pump, args=(self.name, self.proc.stdout, self.logfile), daemon=True
        ).start()
        log(f"started {self.name}{self.where} (pid {self.proc.pid})")

    def check(self) -> None:
        """Notice an exit and schedule the restart; start it when its time has come."""
        now = time.monotonic()
        if self.restart_at is not None:
            if now >= self.restart_at:
                self.restart_at = None
                self.restarts.append(now)
                self.start()
            return
        if self.proc is None or self.proc.poll() is None:
            return
        self._schedule_restart(self.proc.returncode)

    def _schedule_restart(self, code: int) -> None:
        now = time.monotonic()
        if now - self.started_at >= HEALTHY_AFTER:
            self.failures = 0
        self.failures += 1
        delay = min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** (self.failures - 1))
        while self.restarts and now - self.restarts[0] > 60:
            self.restarts.popleft()
        if len(self.restarts) >= MAX_RESTARTS_PER_MINUTE:
            # Past the cap: wait until the oldest restart of the minute leaves the window.
            delay = max(delay, 60 - (now - self.restarts[0]))
        how = f"signal {-code}" if code < 0 else f"code {code}"
        log(f"{self.name} exited ({how}); restarting in {delay:.1f}s")
        self.restart_at = now + delay
        self.proc = None

    def stop(self) -> None:
        self.restart_at = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(self.stop_signal)

    def wait(self, deadline: float) -> None:
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _supervise(children: list[Child], stopping: threading.Event) -> None:
    while not stopping.is_set():
        for child in children:
            child.check()
        stopping.wait(0.2)


def main() -> int:
    settings = PlatformSettings()
    set_trusted_proxies(os.environ)  # type: ignore[arg-type]
    set_public_urls(os.environ)  # type: ignore[arg-type]
    logs = settings.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log(f"data dir: {settings.data_dir}")

    stopping = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    database: Child | None = None
    if not settings.database_url:
        pg = embedded(settings)
        pg.init()
        if pg.is_running():
            # A server started by `phi-db up` (pg_ctl) is not ours to watch: run our own.
            log("stopping the PostgreSQL already running on this data dir, to supervise it")
            pg.stop()
        # PostgreSQL's fast shutdown is SIGINT (SIGTERM waits for every client to leave).
        database = Child(
            "postgres",
            pg.foreground_command(),
            logs,
            # Again before each restart: a test run may have reset a parent folder's mode.
            prepare=pg.foreground_command,
            user=pg.run_as,
            stop_signal=signal.SIGINT,
            where=f" on {settings.pg_host}:{settings.pg_port}",
        )
        database.start()
        while True:
            try:
                pg.wait_ready(timeout=5)
                break
            except Exception:
                if stopping.is_set():
                    database.stop()
                    database.wait(time.monotonic() + 15)
                    return 1
                database.check()
        pg.ensure_database(settings.pg_database)
    # `phi-db migrate` as a child: alembic, the ORM models and the catalog would otherwise
    # stay in this process's memory for as long as the stack runs (40 MB of its RSS).
    migrate = [sys.executable, "-c", "from phi_platform.cli import main; main()", "migrate"]
    if subprocess.run(migrate).returncode != 0:
        log("migrations failed (above): stopping")
        if database is not None:
            database.stop()
            database.wait(time.monotonic() + 30)
        return 1

    children = [database] if database else []
    for service in SERVICES:
        port = service.port()
        child = Child(
            service.name,
            service.argv(),
            logs,
            where=f" on http://localhost:{port}" if port else "",
            env=service.env(),
        )
        child.start()
        children.append(child)

    core_port = SERVICES[0].port()
    log(f"API docs: http://localhost:{core_port}/docs   (Ctrl-C stops everything)")
    log("JSON logs in the [service] lines above and in " + str(logs))
    for service in SERVICES:
        if service.observable and service.port():
            url = f"http://localhost:{service.port()}"
            log(f"{service.name}: {url}/health  {url}/ready  {url}/metrics")
    web = next((s for s in SERVICES if s.name == "web"), None)
    if web is None:
        log("web app not built (`make dev` builds it): serving the APIs only")
    else:
        log(f"web app: http://localhost:{web.port()}")
    _supervise(children, stopping)

    # Services first (newest first), the database last, so nothing loses it while stopping.
    services = [c for c in children if c is not database]
    for child in reversed(services):
        child.stop()
    deadline = time.monotonic() + 15
    for child in services:
        child.wait(deadline)
    if database is not None:
        database.stop()
        database.wait(time.monotonic() + 30)
        log("database stopped")
    log("all stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())

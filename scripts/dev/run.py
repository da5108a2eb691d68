"""Process supervisor behind `make dev`.

Starts the embedded PostgreSQL (unless DATABASE_URL names a server), applies migrations,
loads the catalog, then runs every service as a child process with its output prefixed and
copied to $PHI_DATA_DIR/logs/. Ctrl-C or SIGTERM stops the children, then the database.
If any service exits on its own, everything is stopped and the exit is reported.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

warnings.filterwarnings("ignore", module="platformdirs")

from phi_platform.cli import embedded, prepare_database  # noqa: E402
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

    def argv(self) -> list[str]:
        return self.command or [sys.executable, "-m", self.module, *self.args]

    def port(self) -> int | None:
        if self.port_env is None:
            return None
        return int(os.environ.get(self.port_env, self.default_port or 0))


# Every long-running process of the platform; later services are added here.
SERVICES = [
    Service("core-api", "phi_core_api.main", "PHI_CORE_API_PORT", 8000),
    # Background jobs (document ingestion); start more by hand with `python -m phi_core_api.worker`.
    Service("worker", "phi_core_api.worker"),
    # LLM router for other services and any OpenAI client (base URL http://host:8002/v1).
    Service("llm-router", "phi_llm.service", "PHI_LLM_ROUTER_PORT", 8002),
]

# The web app's production build (`make dev` runs `next build` first); it reaches the services
# through PHI_CORE_API_PORT / PHI_ORCHESTRATOR_PORT, inherited from this environment.
WEB_DIR = Path(__file__).resolve().parents[2] / "apps" / "web"
if (WEB_DIR / ".next" / "BUILD_ID").exists():
    SERVICES.append(
        Service(
            "web",
            "",
            "PHI_WEB_PORT",
            3000,
            command=[
                "node",
                str(WEB_DIR / "node_modules" / "next" / "dist" / "bin" / "next"),
                "start",
                str(WEB_DIR),
                "--port",
                os.environ.get("PHI_WEB_PORT", "3000"),
                "--hostname",
                "127.0.0.1",
            ],
        )
    )
else:
    print("[dev] web app not built (run `make dev`, which builds it): serving the APIs only")


def _pump(name: str, stream, logfile: Path) -> None:  # type: ignore[no-untyped-def]
    with logfile.open("a") as log:
        for line in iter(stream.readline, ""):
            sys.stdout.write(f"[{name}] {line}")
            sys.stdout.flush()
            log.write(line)
            log.flush()


def main() -> int:
    settings = PlatformSettings()
    logs = settings.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    print(f"[dev] data dir: {settings.data_dir}")
    prepare_database(settings)

    stopping = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    children: list[tuple[Service, subprocess.Popen[str]]] = []
    for service in SERVICES:
        proc = subprocess.Popen(
            service.argv(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            # Own session: a terminal Ctrl-C reaches only this supervisor, which then stops
            # the children in order.
            start_new_session=True,
        )
        threading.Thread(
            target=_pump,
            args=(service.name, proc.stdout, logs / f"{service.name}.log"),
            daemon=True,
        ).start()
        children.append((service, proc))
        port = service.port()
        where = f" on http://localhost:{port}" if port else ""
        print(f"[dev] started {service.name}{where} (pid {proc.pid})")

    core_port = SERVICES[0].port()
    print(f"[dev] API docs: http://localhost:{core_port}/docs   (Ctrl-C stops everything)")
    web = next((s for s in SERVICES if s.name == "web"), None)
    if web is not None:
        print(f"[dev] web app: http://localhost:{web.port()}")
    exit_code = 0
    while not stopping.is_set():
        for service, proc in children:
            if proc.poll() is not None:
                print(f"[dev] {service.name} exited with code {proc.returncode}; stopping")
                exit_code = proc.returncode or 1
                stopping.set()
        stopping.wait(0.5)

    for _, proc in children:
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + 15
    for _, proc in children:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
    if not settings.database_url:
        embedded(settings).stop()
        print("[dev] database stopped")
    print("[dev] all stopped")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())

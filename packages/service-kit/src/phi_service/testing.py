"""Helpers for the services' tests: the real app on a loopback port, real worker processes,
the list of tenant-scoped routes an isolation test must cover, and the check that every
route's path is written out in its decorator."""

from __future__ import annotations

import ast
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from phi_platform.embedded_pg import free_port


class LiveServer:
    """A real app served by uvicorn on a loopback port, in a background thread."""

    def __init__(self, app: FastAPI, settings: Any = None, *, start_timeout: float = 30) -> None:
        self.app = app
        self.settings = settings if settings is not None else getattr(app.state, "settings", None)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.start_timeout = start_timeout
        # proxy_headers off, as the services run themselves: each app applies its own list of
        # trusted proxies (uvicorn would otherwise trust X-Forwarded-For from 127.0.0.1).
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", proxy_headers=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + self.start_timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"test server {self.app.title!r} did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


class WorkerProcess:
    """A real worker process (``python -m <module>``); its output is kept for assertions."""

    def __init__(self, module: str, env: Mapping[str, str], ready_marker: str = "ready") -> None:
        self.lines: list[str] = []
        self.ready_marker = ready_marker
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module],
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def wait_ready(self, timeout: float = 60) -> WorkerProcess:
        deadline = time.monotonic() + timeout
        while not any(self.ready_marker in line for line in self.lines):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("worker did not start:\n" + "".join(self.lines))
            time.sleep(0.05)
        return self

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self, grace: float = 20) -> None:
        """SIGTERM (a worker finishes its running jobs first), SIGKILL after ``grace`` s."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.kill()


def scoped_routes(app: FastAPI, public_params: Iterable[str] = ()) -> set[str]:
    """Every operation ("METHOD /path") of the app's OpenAPI document with a path parameter
    other than ``public_params``: the routes a tenant-isolation test must have a case for.

    Read from the OpenAPI document rather than ``app.routes``, which FastAPI nests."""
    public = set(public_params)
    found: set[str] = set()
    for path, operations in app.openapi()["paths"].items():
        if set(re.findall(r"\{(\w+)\}", path)) - public:
            found.update(f"{method.upper()} {path}" for method in operations)
    return found


ROUTE_DECORATORS = frozenset(
    {"get", "post", "put", "patch", "delete", "head", "options", "api_route", "websocket"}
)


def route_paths_in_source(sources: Iterable[Path]) -> set[str]:
    """The paths written as a string literal in a route decorator (``@router.get("/x")``) in
    the Python files under ``sources``."""
    found: set[str] = set()
    for root in sources:
        for file in root.rglob("*.py"):
            for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                for decorator in node.decorator_list:
                    if (
                        isinstance(decorator, ast.Call)
                        and isinstance(decorator.func, ast.Attribute)
                        and decorator.func.attr in ROUTE_DECORATORS
                        and decorator.args
                        and isinstance(decorator.args[0], ast.Constant)
                        and isinstance(decorator.args[0].value, str)
                    ):
                        found.add(decorator.args[0].value)
    return found


def paths_not_written_out(app: FastAPI, sources: Iterable[Path]) -> list[str]:
    """The app's OpenAPI paths that no route decorator under ``sources`` spells out in full:
    paths built from a prefix (``APIRouter(prefix=...)``, an f-string, a factory) cannot be
    found by searching the code for the URL."""
    written = route_paths_in_source(sources)
    return sorted(p for p in app.openapi()["paths"] if p not in written)

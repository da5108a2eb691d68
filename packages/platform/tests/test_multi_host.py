"""Running on several hosts: secrets come from the environment or mounted files, a service
in multi-host mode will not start without what its replicas must share, and migrations run
once however many replicas (or jobs) start together."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from phi_platform.embedded_pg import free_port
from phi_platform.settings import PlatformSettings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "PHI_DATABASE_URL", "PHI_JWT_SECRET", "PHI_MULTI_HOST"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"{name}_FILE", raising=False)


def test_multi_host_mode_refuses_to_start_without_the_database_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PHI_MULTI_HOST", "1")
    with pytest.raises(ValidationError, match="PHI_MULTI_HOST is on but DATABASE_URL is not set"):
        PlatformSettings()
    monkeypatch.setenv("PHI_JWT_SECRET", "s" * 30 + "-never-printed")
    with pytest.raises(ValidationError) as refused:
        PlatformSettings()
    assert "never-printed" not in str(refused.value)
    monkeypatch.setenv("DATABASE_URL", "postgresql://db.internal/phi")
    assert PlatformSettings().multi_host


def test_secrets_can_come_from_mounted_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "jwt").write_text("from-a-mounted-file\n")
    (tmp_path / "db").write_text("postgresql://phi:pw@db.internal/phi")
    monkeypatch.setenv("PHI_JWT_SECRET_FILE", str(tmp_path / "jwt"))
    monkeypatch.setenv("DATABASE_URL_FILE", str(tmp_path / "db"))
    monkeypatch.setenv("PHI_MULTI_HOST", "true")
    settings = PlatformSettings(data_dir=tmp_path / "data")
    assert settings.resolved_jwt_secret == "from-a-mounted-file"
    assert settings.libpq_database_url == "postgresql://phi:pw@db.internal/phi"
    assert not (tmp_path / "data").exists()  # nothing generated on this host

    # A value in the environment wins over the file.
    monkeypatch.setenv("PHI_JWT_SECRET", "from-the-env")
    assert PlatformSettings().resolved_jwt_secret == "from-the-env"

    monkeypatch.delenv("PHI_JWT_SECRET")
    monkeypatch.setenv("PHI_JWT_SECRET_FILE", str(tmp_path / "nope"))
    with pytest.raises(ValidationError, match="PHI_JWT_SECRET_FILE=.*nope: cannot read it"):
        PlatformSettings()
    (tmp_path / "empty").write_text("  \n")
    monkeypatch.setenv("PHI_JWT_SECRET_FILE", str(tmp_path / "empty"))
    with pytest.raises(ValidationError, match="the file is empty"):
        PlatformSettings()


def test_migrations_run_once_when_many_jobs_start_together(fresh_database_url: str) -> None:
    """Four `phi-db migrate` processes on an empty database at the same moment (one per
    replica starting): all succeed, and the schema and catalog are there once."""
    url = fresh_database_url.replace("+psycopg", "")
    env = {"DATABASE_URL": url, "PATH": "/usr/bin:/bin"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", "from phi_platform.cli import main; main()", "migrate"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], "\n---\n".join(outputs)
    assert all("database ready" in out for out in outputs)
    engine = create_engine(fresh_database_url)
    with engine.connect() as conn:
        versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
        industries = conn.execute(
            text("SELECT key, count(*) FROM industries GROUP BY key HAVING count(*) > 1")
        ).all()
    engine.dispose()
    heads = sorted(
        p.stem.split("_")[0]
        for p in (Path(__file__).parents[1] / "src/phi_platform/db/migrations/versions").glob(
            "00*.py"
        )
    )
    assert versions == [heads[-1]]
    assert industries == []


@contextmanager
def database_appearing_after(delay: float, host: str, port: int) -> Iterator[int]:
    """A port where nothing listens for ``delay`` seconds, then a plain TCP relay to the real
    server: a database that is still starting when the migration job is."""
    listen_port = free_port()
    stop = threading.Event()
    relays: list[threading.Thread] = []

    def pipe(src: socket.socket, dst: socket.socket) -> None:
        # Only the write half is shut at the end: the thread copying the other way may still
        # be reading from ``dst``, and closing it under that thread fails its recv with EBADF.
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except ConnectionError:
            pass  # the other side reset the connection: the relay ends all the same
        finally:
            with suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

    def relay(client: socket.socket, upstream: socket.socket) -> None:
        """Both directions of one connection; the sockets are closed once neither is used."""
        with client, upstream:
            copies = [
                threading.Thread(target=pipe, args=pair, daemon=True)
                for pair in ((client, upstream), (upstream, client))
            ]
            for copy in copies:
                copy.start()
            for copy in copies:
                copy.join()

    def serve() -> None:
        time.sleep(delay)
        with socket.create_server(("127.0.0.1", listen_port)) as server:
            server.settimeout(0.2)
            while not stop.is_set():
                try:
                    client, _ = server.accept()
                except TimeoutError:
                    continue
                upstream = socket.create_connection((host, port))
                relays.append(threading.Thread(target=relay, args=(client, upstream), daemon=True))
                relays[-1].start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listen_port
    finally:
        stop.set()
        thread.join(timeout=5)
        for relay_thread in relays:  # the migration job has exited: its connections are closed
            relay_thread.join(timeout=5)


def migrate_cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from phi_platform.cli import main; main()", "migrate", *args],
        env={"DATABASE_URL": url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_migrate_waits_for_a_database_that_is_still_starting(fresh_database_url: str) -> None:
    """A compose file starts the migration job together with PostgreSQL: with --wait it keeps
    trying until the server answers; when it never does, it says where it looked (not the
    password) and fails."""
    url = make_url(fresh_database_url.replace("+psycopg", ""))
    with database_appearing_after(2.0, url.host or "127.0.0.1", url.port or 5432) as port:
        late = url.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
        done = migrate_cli(late, "--wait", "60")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "database ready" in done.stdout

    nowhere = url.set(host="127.0.0.1", port=free_port()).render_as_string(hide_password=False)
    started = time.monotonic()
    refused = migrate_cli(nowhere, "--wait", "1.5")
    assert refused.returncode == 1
    assert time.monotonic() - started >= 1.5
    assert f"127.0.0.1:{make_url(nowhere).port}/{url.database} did not accept" in refused.stderr
    assert str(url.password) not in refused.stderr + refused.stdout

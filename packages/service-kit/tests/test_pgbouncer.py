"""The services' database engine works through PgBouncer in session mode, as docs/deploy.md
suggests for many replicas: a real PgBouncer (Debian's, installed by `make test`) in front of
the test run's PostgreSQL."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from phi_platform.db import create_engine
from phi_platform.embedded_pg import EmbeddedPostgres, free_port

PGBOUNCER = "/usr/sbin/pgbouncer"


@pytest.fixture
def bounced_url(database_url: str) -> Iterator[str]:
    """``database_url`` through a PgBouncer of this test (session mode, SCRAM)."""
    url = make_url(database_url)
    # Not under pytest's temporary folders: they are private to the user running the tests.
    folder = Path(tempfile.mkdtemp(prefix="phi-pgbouncer-"))
    port = free_port()
    (folder / "userlist.txt").write_text(f'"{url.username}" "{url.password}"\n')
    (folder / "pgbouncer.ini").write_text(
        f"""[databases]
{url.database} = host={url.host} port={url.port} dbname={url.database}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {folder / "userlist.txt"}
pool_mode = session
logfile = {folder / "pgbouncer.log"}
pidfile = {folder / "pgbouncer.pid"}
"""
    )
    # PgBouncer refuses to run as root, as PostgreSQL does: as the embedded server's user.
    user = EmbeddedPostgres(root=folder, port=0).run_as
    if user is not None:
        for path in (folder, *folder.iterdir()):
            shutil.chown(path, user)
    proc = subprocess.Popen(
        [PGBOUNCER, str(folder / "pgbouncer.ini")],
        user=user,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for_port(port, proc, folder / "pgbouncer.log")
        yield url.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            output = proc.stdout.read().decode() if proc.stdout else ""
            logged = log.read_text() if log.exists() else ""
            raise RuntimeError(f"pgbouncer exited: {output}{logged}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("pgbouncer did not listen")


def test_the_engine_connects_through_pgbouncer_and_sets_its_idle_timeout(
    bounced_url: str,
) -> None:
    libpq_url = bounced_url.replace("postgresql+psycopg://", "postgresql://")
    # What the engine sent before: PgBouncer refuses a startup 'options' parameter.
    with pytest.raises(psycopg.OperationalError, match="unsupported startup parameter"):
        psycopg.connect(libpq_url, options="-c idle_session_timeout=180000").close()

    async def main() -> None:
        engine = create_engine(bounced_url, pool_size=2, idle_seconds=2)
        try:
            for _ in range(3):
                async with engine.connect() as conn:
                    assert (await conn.execute(text("SELECT 1"))).scalar() == 1
                    # 2 s x 1.5: the server ends the session once idle past the pool's limit.
                    timeout = await conn.execute(text("SHOW idle_session_timeout"))
                    assert timeout.scalar() == "3s"
            async with engine.begin() as conn:
                await conn.execute(text("CREATE TEMP TABLE t (x int)"))
                await conn.execute(text("INSERT INTO t VALUES (1)"))
                assert (await conn.execute(text("SELECT sum(x) FROM t"))).scalar() == 1
        finally:
            await engine.dispose()

    asyncio.run(main())


def test_the_idle_timeout_is_set_on_a_direct_connection_too(database_url: str) -> None:
    async def main() -> None:
        engine = create_engine(database_url, pool_size=1, idle_seconds=120)
        try:
            # The same connection twice: the setting outlives the rollback the pool does when
            # a connection comes back (it was committed, not left in the first transaction).
            for _ in range(2):
                async with engine.connect() as conn:
                    timeout = await conn.execute(text("SHOW idle_session_timeout"))
                    assert timeout.scalar() == "3min"
                    pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar()
                    pids.add(pid)
            assert len(pids) == 1
        finally:
            await engine.dispose()

    pids: set[int] = set()
    asyncio.run(main())

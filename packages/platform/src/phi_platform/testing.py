"""Pytest fixtures for tests that need the real database (loaded from the root conftest).

One embedded PostgreSQL 18 + pgvector cluster per test run, under ``.phi/test-pg`` on a free
port; each run gets a fresh database with every migration applied and the catalog seeded.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from phi_platform.settings import default_data_dir, to_sqlalchemy_url


@pytest.fixture(scope="session")
def pg_server() -> Iterator[object]:
    warnings.filterwarnings("ignore", module="platformdirs")
    from phi_platform.embedded_pg import EmbeddedPostgres, free_port

    # One cluster per test process, so two runs in one checkout never touch each other's
    # server; clusters left by runs that were killed are removed here.
    for leftover in _test_pg_base().glob("run-*"):
        pid = leftover.name.removeprefix("run-").split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            EmbeddedPostgres(root=leftover, port=0).destroy()
    pg = EmbeddedPostgres(root=_test_pg_base() / f"run-{os.getpid()}", port=free_port())
    pg.start()
    yield pg
    pg.destroy()


def _test_pg_base() -> Path:
    return Path(os.environ.get("PHI_TEST_PG_DIR", default_data_dir() / "test-pg"))


@pytest.fixture
def own_pg_server(pg_server: object) -> Iterator[object]:
    """A cluster of the test's own (an ``EmbeddedPostgres``), for tests that stop or kill
    the server; removed afterwards."""
    from phi_platform.embedded_pg import EmbeddedPostgres, free_port

    root = _test_pg_base() / f"run-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    pg = EmbeddedPostgres(root=root, port=free_port())
    pg.start()
    yield pg
    pg.destroy()


def migrated_database(pg: object, name: str) -> str:
    """Create database ``name`` on ``pg`` with every migration applied and the catalog seeded;
    returns its SQLAlchemy URL."""
    from phi_platform.catalog.seed import seed_catalog
    from phi_platform.db.migrate import upgrade

    url = to_sqlalchemy_url(pg.ensure_database(name))  # type: ignore[attr-defined]
    upgrade(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        seed_catalog(conn)
    engine.dispose()
    return url


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@pytest.fixture(scope="session")
def database_url(pg_server: object) -> Iterator[str]:
    """SQLAlchemy URL of a freshly migrated and seeded database for this test run."""
    name = f"phi_test_{uuid.uuid4().hex[:8]}"
    url = migrated_database(pg_server, name)
    yield url
    pg_server.drop_database(name)  # type: ignore[attr-defined]


@pytest.fixture
def fresh_database_url(pg_server: object) -> Iterator[str]:
    """An empty database (pgvector installed, nothing migrated) for migration tests."""
    name = f"phi_test_{uuid.uuid4().hex[:8]}"
    url = to_sqlalchemy_url(pg_server.ensure_database(name))  # type: ignore[attr-defined]
    yield url
    pg_server.drop_database(name)  # type: ignore[attr-defined]

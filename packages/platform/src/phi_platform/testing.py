"""Pytest fixtures for tests that need the real database (loaded from the root conftest).

One embedded PostgreSQL 18 + pgvector cluster per test run, under ``.phi/test-pg`` on a free
port; each run gets a fresh database with every migration applied and the catalog seeded.
"""

from __future__ import annotations

import os
import re
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


# Secrets the tests used (passwords typed, keys handed out), registered by the root
# conftest's hooks: none of them may appear in an audit event. Whole local-agent keys and
# JWTs are recognised by their shape as well.
AUDIT_SECRETS: set[str] = set()
_SECRET_SHAPES = re.compile(
    r"phia_[0-9a-f]{32}_[A-Za-z0-9_-]{43}|eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\."
    r"|whsec_[A-Za-z0-9_-]{43}"
)


def audit_events_with_secrets(url: str) -> list[str]:
    """Audit events of the database at ``url`` that carry one of :data:`AUDIT_SECRETS` or
    something shaped like a key or token, anywhere in the row; one line per event found."""
    import psycopg

    # A string of few different characters is no secret: the API fuzzer's password
    # "00000000" is also the name it gives every organization.
    secrets = sorted(s for s in AUDIT_SECRETS if len(s) >= 6 and len(set(s)) >= 4)
    found = []
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        exists = conn.execute("SELECT to_regclass('audit_events') IS NOT NULL").fetchone()
        if not exists or not exists[0]:
            return []
        with conn.cursor(name="audit_scan") as cur:
            cur.execute("SELECT id, action, audit_events::text FROM audit_events")
            for event_id, action, row in cur:
                hits = [s for s in secrets if s in row]
                shape = _SECRET_SHAPES.search(row)
                if shape:
                    hits.append(shape.group(0))
                if hits:
                    found.append(f"event {event_id} ({action}) carries {hits!r}: {row}")
    return found


@pytest.fixture(scope="session")
def database_url(pg_server: object) -> Iterator[str]:
    """SQLAlchemy URL of a freshly migrated and seeded database for this test run.

    When the run ends, every audit event written during it is scanned for the tests'
    passwords, keys and tokens (:func:`audit_events_with_secrets`); one found fails the run."""
    name = f"phi_test_{uuid.uuid4().hex[:8]}"
    url = migrated_database(pg_server, name)
    yield url
    leaks = audit_events_with_secrets(url)
    pg_server.drop_database(name)  # type: ignore[attr-defined]
    assert not leaks, "audit events carry secrets:\n" + "\n".join(leaks)


@pytest.fixture
def fresh_database_url(pg_server: object) -> Iterator[str]:
    """An empty database (pgvector installed, nothing migrated) for migration tests."""
    name = f"phi_test_{uuid.uuid4().hex[:8]}"
    url = to_sqlalchemy_url(pg_server.ensure_database(name))  # type: ignore[attr-defined]
    yield url
    pg_server.drop_database(name)  # type: ignore[attr-defined]

"""Run the Alembic migrations that ship inside this package."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# The advisory lock every migration run takes ("phi-migr" as a number): replicas or jobs that
# start together migrate one after the other, and the later ones find nothing left to do.
MIGRATION_LOCK_KEY = 0x7068692D6D696772


def alembic_config(
    url: str, embedding_dim: int = 384, secret_box: Callable[[], Any] | None = None
) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    # Read by the first migration to size the vector column.
    cfg.attributes["embedding_dim"] = embedding_dim
    # Migrations that encrypt stored secrets ask for it only when there are some.
    if secret_box is not None:
        cfg.attributes["secret_box"] = secret_box
    return cfg


@contextmanager
def migration_lock(url: str) -> Iterator[None]:
    """Hold the database's migration lock (PostgreSQL advisory lock, on a connection of its
    own: released by the server if this process dies)."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
                conn.commit()
    finally:
        engine.dispose()


def upgrade(
    url: str,
    embedding_dim: int = 384,
    revision: str = "head",
    *,
    lock: bool = True,
    secret_box: Callable[[], Any] | None = None,
) -> None:
    """Bring the database at ``url`` (SQLAlchemy URL) up to ``revision``, under the
    migration lock unless the caller holds it already (``lock=False``). ``secret_box``
    gives the ``phi_platform.secret_box.SecretBox`` to encrypt stored secrets with (default:
    the one of the settings in the environment)."""
    cfg = alembic_config(url, embedding_dim, secret_box)
    if not lock:
        command.upgrade(cfg, revision)
        return
    with migration_lock(url):
        command.upgrade(cfg, revision)


def downgrade(
    url: str,
    revision: str,
    embedding_dim: int = 384,
    secret_box: Callable[[], Any] | None = None,
) -> None:
    command.downgrade(alembic_config(url, embedding_dim, secret_box), revision)

"""Run the Alembic migrations that ship inside this package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: str, embedding_dim: int = 384) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    # Read by the first migration to size the vector column.
    cfg.attributes["embedding_dim"] = embedding_dim
    return cfg


def upgrade(url: str, embedding_dim: int = 384, revision: str = "head") -> None:
    """Bring the database at ``url`` (SQLAlchemy URL) up to ``revision``."""
    command.upgrade(alembic_config(url, embedding_dim), revision)


def downgrade(url: str, revision: str, embedding_dim: int = 384) -> None:
    command.downgrade(alembic_config(url, embedding_dim), revision)

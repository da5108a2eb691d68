from __future__ import annotations

import psycopg


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def test_checkpoint_tables_match_the_installed_langgraph_saver(database_url: str) -> None:
    """Migration 0005 created the checkpointer's schema; its setup() would have nothing to do."""
    from langgraph.checkpoint.postgres.base import MIGRATIONS

    with psycopg.connect(_plain(database_url)) as conn:
        (latest,) = conn.execute("SELECT max(v) FROM checkpoint_migrations").fetchone()  # type: ignore[misc]
        columns = {
            name
            for (name,) in conn.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'checkpoint_writes'"
            ).fetchall()
        }
    assert latest == len(MIGRATIONS) - 1
    assert "task_path" in columns

from __future__ import annotations

import time

import psycopg
from sqlalchemy import create_engine, inspect

from phi_platform.db.migrate import downgrade, upgrade
from phi_platform.db.models import Base


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def test_upgrade_downgrade_upgrade_creates_every_model_table(fresh_database_url: str) -> None:
    upgrade(fresh_database_url)
    downgrade(fresh_database_url, "base")
    upgrade(fresh_database_url)
    engine = create_engine(fresh_database_url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert set(Base.metadata.tables) <= tables


def test_vector_dimension_follows_the_embedding_setting(fresh_database_url: str) -> None:
    upgrade(fresh_database_url, embedding_dim=1536)
    with psycopg.connect(_plain(fresh_database_url)) as conn:
        (kind,) = conn.execute(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'document_chunks'::regclass AND attname = 'embedding'"
        ).fetchone()  # type: ignore[misc]
        (unit_kind,) = conn.execute(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'document_units'::regclass AND attname = 'embedding'"
        ).fetchone()  # type: ignore[misc]
        (shared_hnsw,) = conn.execute(
            "SELECT count(*) FROM pg_class WHERE relname = 'ix_document_chunks_embedding_hnsw'"
        ).fetchone()  # type: ignore[misc]
    # Search uses per-organization indexes (migration 0004 drops the shared one).
    assert kind == "vector(1536)" and shared_hnsw == 0
    assert unit_kind == "vector(1536)"  # units (migration 0008) take the chunks' type


def test_updated_at_is_maintained_by_the_database(database_url: str) -> None:
    with psycopg.connect(_plain(database_url), autocommit=True) as conn:
        (org_id, created) = conn.execute(
            "INSERT INTO organizations (name) VALUES ('t') RETURNING id, updated_at"
        ).fetchone()  # type: ignore[misc]
        time.sleep(0.01)
        conn.execute("UPDATE organizations SET name = 'u' WHERE id = %s", (org_id,))
        (updated,) = conn.execute(
            "SELECT updated_at FROM organizations WHERE id = %s", (org_id,)
        ).fetchone()  # type: ignore[misc]
        conn.execute("DELETE FROM organizations WHERE id = %s", (org_id,))
    assert updated > created


def test_org_id_filters_are_indexed(database_url: str) -> None:
    """Every table with an org_id column has an index whose first column is org_id."""
    with psycopg.connect(_plain(database_url)) as conn:
        rows = conn.execute(
            """
            SELECT c.relname,
                   bool_or(a.attname = 'org_id') AS indexed
            FROM pg_class c
            JOIN pg_attribute oc ON oc.attrelid = c.oid AND oc.attname = 'org_id'
            LEFT JOIN pg_index i ON i.indrelid = c.oid
            LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]
            WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace
            GROUP BY c.relname
            """
        ).fetchall()
    unindexed = [name for name, indexed in rows if not indexed]
    assert rows and not unindexed, unindexed

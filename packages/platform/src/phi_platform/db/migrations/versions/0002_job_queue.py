"""procrastinate job queue schema

Revision ID: 0002
Revises: 0001

The background job queue (procrastinate) lives in the same database. Its schema is applied
here from ``migrations/sql/0002_procrastinate_3.10.0.sql``: the schema SQL that procrastinate
3.10.0 (the pinned version; MIT licence) ships, copied byte for byte. It is not read from the
installed procrastinate, so a database created after an upgrade of the library gets the same
schema as one created before it, and upgrading procrastinate means adding a migration that
runs its shipped migration files for the versions in between
(``tests/test_migrations.py`` fails when the pin and this file disagree).
"""

from __future__ import annotations

from pathlib import Path

from alembic import op

revision = "0002"
down_revision = "0001"

SCHEMA_SQL = Path(__file__).resolve().parents[1] / "sql" / "0002_procrastinate_3.10.0.sql"


def upgrade() -> None:
    # The raw psycopg connection runs the multi-statement script as one simple query,
    # without SQLAlchemy or psycopg parameter parsing of its colons and percent signs.
    raw = op.get_bind().connection.dbapi_connection
    assert raw is not None
    raw.execute(SCHEMA_SQL.read_text(encoding="utf-8"))  # type: ignore[attr-defined]
    # Stalled-job detection looks up running jobs by worker.
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_procrastinate_jobs_doing_worker "
        "ON procrastinate_jobs (worker_id) WHERE status = 'doing'"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_procrastinate_jobs_doing_worker")
    for table in (
        "procrastinate_events",
        "procrastinate_periodic_defers",
        "procrastinate_jobs",
        "procrastinate_workers",
    ):
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    raw = op.get_bind().connection.dbapi_connection
    assert raw is not None
    # Raw connection: the LIKE patterns' percent signs must not be read as placeholders.
    raw.execute(
        "DO $$ DECLARE r record; BEGIN "
        "FOR r IN SELECT p.oid::regprocedure AS sig FROM pg_proc p "
        "JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname = 'public' AND p.proname LIKE 'procrastinate%' LOOP "
        "EXECUTE 'DROP FUNCTION IF EXISTS ' || r.sig || ' CASCADE'; END LOOP; "
        "FOR r IN SELECT t.typname FROM pg_type t "
        "JOIN pg_namespace n ON n.oid = t.typnamespace "
        "WHERE n.nspname = 'public' AND t.typname LIKE 'procrastinate%' "
        "AND t.typtype IN ('e', 'c') LOOP "
        "EXECUTE 'DROP TYPE IF EXISTS ' || quote_ident(r.typname) || ' CASCADE'; END LOOP; END $$"
    )

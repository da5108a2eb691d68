"""Per-organization HNSW indexes for organizations with many chunks.

One HNSW index over every organization's chunks serves a tenant-filtered query badly: the
graph walk visits mostly other tenants' vectors. At 1M chunks a tenant holding 10% of them
got recall@10 of 0.27-0.38 from it, and for a tenant holding 1% it was slower than an exact
scan with recall 0.46 (docs/benchmarks.md). So search reads an organization's own partial
HNSW index (``WHERE org_id = '<id>'``) when it has one, and otherwise scans the
organization's rows exactly, which stays under ~20 ms up to about 10,000 chunks. With its own
index (m=24, ef_construction=200) a 100k-chunk tenant in a 1M table got recall@10 0.954 at
p95 14.6 ms. ``phi-documents index-tenants`` creates the partial index for every
organization past the threshold; run it from cron or after large uploads.

Search matches on units (``document_units``, small-to-big) as well as on chunks, so an
organization past the threshold gets one partial index on each table.
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg

PREFIX = "ix_document_chunks_hnsw_org_"
UNITS_PREFIX = "ix_document_units_hnsw_org_"
# (table, index name prefix) of every table that gets per-organization indexes.
TABLES = (("document_chunks", PREFIX), ("document_units", UNITS_PREFIX))


def index_name(org_id: uuid.UUID) -> str:
    return f"{PREFIX}{org_id.hex}"


def unit_index_name(org_id: uuid.UUID) -> str:
    return f"{UNITS_PREFIX}{org_id.hex}"


# Whether the organization has a usable (valid) partial index; a CONCURRENTLY build that
# failed leaves an invalid one that the planner ignores.
_HAS_INDEX = (
    "SELECT coalesce((SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass({})), false)"
)
HAS_INDEX_SQL = _HAS_INDEX.format(":name")  # SQLAlchemy text()


def has_own_index(conn: psycopg.Connection[Any], org_id: uuid.UUID) -> bool:
    row = conn.execute(_HAS_INDEX.format("%s"), (index_name(org_id),)).fetchone()
    return bool(row and row[0])


def ensure_tenant_indexes(
    conn: psycopg.Connection[Any],
    min_chunks: int,
    org_ids: list[uuid.UUID] | None = None,
    log: Any = print,
) -> list[str]:
    """Create the partial HNSW indexes (chunks and units) of every organization (or of
    ``org_ids``) with at least ``min_chunks`` units, rebuild invalid ones, drop those of
    deleted organizations; returns the names created. ``conn`` must be in autocommit mode
    (CREATE INDEX CONCURRENTLY)."""
    existing = {
        name: valid
        for name, valid in conn.execute(
            "SELECT c.relname, i.indisvalid FROM pg_class c "
            "JOIN pg_index i ON i.indexrelid = c.oid "
            "WHERE c.relname LIKE %s OR c.relname LIKE %s",
            (PREFIX + "%", UNITS_PREFIX + "%"),
        ).fetchall()
    }
    # Counted in units, the rows search scans: past the threshold an exact scan of them is
    # slower than the index (docs/benchmarks.md).
    orgs = conn.execute(
        "SELECT org_id, count(*) FROM document_units "
        "WHERE %(orgs)s::uuid[] IS NULL OR org_id = ANY(%(orgs)s) "
        "GROUP BY org_id HAVING count(*) >= %(min)s",
        {"orgs": org_ids, "min": min_chunks},
    ).fetchall()
    created = []
    for org_id, count in orgs:
        for table, prefix in TABLES:
            name = f"{prefix}{org_id.hex}"
            if existing.get(name):
                continue
            if name in existing:
                conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
            log(f"building {name} ({table} of an organization with {count} units)")
            # org_id is a uuid from the database, so the literal is safe; a partial index
            # predicate cannot take a parameter. m=24 / ef_construction=200 rather than the
            # defaults (16/64): recall@10 0.954 instead of 0.852 at ef_search=200 for 100k rows.
            conn.execute(
                f"CREATE INDEX CONCURRENTLY {name} ON {table} "
                "USING hnsw (embedding vector_cosine_ops) WITH (m = 24, ef_construction = 200) "
                f"WHERE org_id = '{uuid.UUID(str(org_id))}'"
            )
            created.append(name)
    live = {
        f"{prefix}{r[0].hex}"
        for r in conn.execute("SELECT id FROM organizations").fetchall()
        for _, prefix in TABLES
    }
    for name in existing:
        if name not in live:
            log(f"dropping {name} (organization deleted)")
            conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
    return created

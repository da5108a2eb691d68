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
organization past the threshold gets one partial index on each table. Memories
(:mod:`phi_search.memory`) are searched the same way and get their own partial index once the
organization has as many of them (counted apart from its units).
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg

PREFIX = "ix_document_chunks_hnsw_org_"
UNITS_PREFIX = "ix_document_units_hnsw_org_"
MEMORIES_PREFIX = "ix_memories_hnsw_org_"
# Tables whose per-organization indexes are built together, and the table whose rows per
# organization are counted against the threshold: documents by their units (the rows search
# scans), memories by themselves.
GROUPS: dict[str, tuple[tuple[str, str], ...]] = {
    "document_units": (("document_chunks", PREFIX), ("document_units", UNITS_PREFIX)),
    "memories": (("memories", MEMORIES_PREFIX),),
}
# (table, index name prefix) of every table that gets per-organization indexes.
TABLES = tuple(pair for pairs in GROUPS.values() for pair in pairs)


def index_name(org_id: uuid.UUID) -> str:
    return f"{PREFIX}{org_id.hex}"


def unit_index_name(org_id: uuid.UUID) -> str:
    return f"{UNITS_PREFIX}{org_id.hex}"


def memory_index_name(org_id: uuid.UUID) -> str:
    return f"{MEMORIES_PREFIX}{org_id.hex}"


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
    groups: tuple[str, ...] = tuple(GROUPS),
) -> list[str]:
    """Create the partial HNSW indexes (chunks and units; memories) of every organization
    (or of ``org_ids``) with at least ``min_chunks`` units (memories), rebuild invalid ones,
    drop those of deleted organizations; returns the names created. ``groups``: which of
    ``GROUPS`` to build (all by default). ``conn`` must be in autocommit mode (CREATE INDEX
    CONCURRENTLY)."""
    existing = {
        name: valid
        for name, valid in conn.execute(
            "SELECT c.relname, i.indisvalid FROM pg_class c "
            "JOIN pg_index i ON i.indexrelid = c.oid "
            "WHERE c.relname LIKE ANY(%s)",
            ([prefix + "%" for _, prefix in TABLES],),
        ).fetchall()
    }
    created = []
    for counted in groups:
        # Counted in the rows search scans: past the threshold an exact scan of them is
        # slower than the index (docs/benchmarks.md).
        orgs = conn.execute(
            f"SELECT org_id, count(*) FROM {counted} "
            "WHERE %(orgs)s::uuid[] IS NULL OR org_id = ANY(%(orgs)s) "
            "GROUP BY org_id HAVING count(*) >= %(min)s",
            {"orgs": org_ids, "min": min_chunks},
        ).fetchall()
        created += _build(conn, existing, orgs, GROUPS[counted], counted, log)
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


def _build(
    conn: psycopg.Connection[Any],
    existing: dict[str, bool],
    orgs: list[Any],
    tables: tuple[tuple[str, str], ...],
    counted: str,
    log: Any,
) -> list[str]:
    created = []
    for org_id, count in orgs:
        for table, prefix in tables:
            name = f"{prefix}{org_id.hex}"
            if existing.get(name):
                continue
            if name in existing:
                conn.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
            log(f"building {name} ({table} of an organization with {count} {counted})")
            # org_id is a uuid from the database, so the literal is safe; a partial index
            # predicate cannot take a parameter. m=24 / ef_construction=200 rather than the
            # defaults (16/64): recall@10 0.954 instead of 0.852 at ef_search=200 for 100k rows.
            conn.execute(
                f"CREATE INDEX CONCURRENTLY {name} ON {table} "
                "USING hnsw (embedding vector_cosine_ops) WITH (m = 24, ef_construction = 200) "
                f"WHERE org_id = '{uuid.UUID(str(org_id))}'"
            )
            created.append(name)
    return created

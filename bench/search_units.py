"""Latency of the search query: today's (passages only) against small-to-big (units + passages).

    python bench/search_units.py                     # 25k passages / 100k units
    python bench/search_units.py --passages 250000   # 1M units (`make bench-search-units`)
    python bench/search_units.py --smoke

Synthetic corpus: documents of 20 passages, each passage with 4 units (the measured mean on
the labelled sets is 1.6-1.8, so 4 is the costly side); vectors are a document direction plus
a passage and a unit part, normalised (384-d); texts are words drawn from a 2,000-word
vocabulary so that the full-text half does real work. Tenant A holds 10% of the rows, the
rest belongs to 99 others.

Loading: the rows are generated in numpy a block at a time and written with binary COPY while
the secondary indexes, the foreign-key triggers and the tenant's HNSW indexes are off; the
indexes are built once after the load. The database (one per size, in the bench server of
bench_db.py under .phi/bench) is kept, with tenant A's own HNSW indexes, and reused by later
runs (``--rebuild`` reloads it).

Queries run as the route runs them, for tenant A, through one async SQLAlchemy session, in
two set-ups: exact scan of the tenant's rows (its own indexes marked invalid, as a failed
CONCURRENTLY build leaves them, so the route and the planner skip them) and the tenant's own
HNSW indexes (``phi_search.tenant_index``). Within a set-up the queries are interleaved: each
question goes through every variant before the next one, in an order that rotates, so that
the machine's load (2 cores shared with other engineers) hits all variants alike. Variants:

* today: the pre-issue-13 route, hybrid (vector top 40 fused with the all-words full-text top
  40) over passages, after its own-index check;
* small-to-big: ``phi_search.search`` as shipped;
* small-to-big (before): the route before the cost changes of this bench (own-index check in
  its own round trip), kept here to measure the change in the same run.

Every small-to-big variant must return the same hits for every query (checked). p50/p95 ms
after a warm-up, with the load average before and after each set-up.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import psycopg

warnings.filterwarnings("ignore", module="platformdirs")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_db import database, server, smoke_argument  # noqa: E402

DIM = 384
UNITS_PER_PASSAGE = 4
PASSAGES_PER_DOC = 20
TENANTS = 100
SHARE_A = 0.10
WORDS = 40  # words per unit
VOCABULARY = 2000
DOCS_PER_BLOCK = 500  # 10,000 passages, 40,000 units in memory at a time
DATA_VERSION = 1  # bump when the generator changes: stored databases are reloaded

TODAY_SQL = """
WITH vec AS MATERIALIZED (
    SELECT c.id, c.embedding <=> CAST(:q AS vector) AS distance
      FROM document_chunks c
     WHERE c.org_id = :org AND (c.agent_id = :agent OR c.agent_id IS NULL)
     ORDER BY c.embedding <=> CAST(:q AS vector)
     LIMIT 40
),
txt AS MATERIALIZED (
    SELECT c.id, ts_rank_cd(c.search_text, tq) AS text_rank
      FROM document_chunks c, websearch_to_tsquery('simple', :text) tq
     WHERE c.org_id = :org AND (c.agent_id = :agent OR c.agent_id IS NULL)
       AND c.search_text @@ tq
     ORDER BY text_rank DESC, c.id
     LIMIT 40
),
fused AS (
    SELECT id, sum(1.0 / (60 + rank)) AS rrf
      FROM (SELECT id, row_number() OVER (ORDER BY distance, id) AS rank FROM vec
            UNION ALL
            SELECT id, row_number() OVER (ORDER BY text_rank DESC, id) AS rank FROM txt) ranks
     GROUP BY id
     ORDER BY rrf DESC, id
     LIMIT 5
)
SELECT c.id, c.chunk_text, c.embedding <=> CAST(:q AS vector) AS distance, d.name
  FROM fused f
  JOIN document_chunks c ON c.id = f.id
  JOIN documents d ON d.id = c.document_id
 ORDER BY f.rrf DESC, c.id
"""


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


def secondary_indexes(conn: Any) -> list[tuple[str, str]]:
    """(name, definition) of the indexes COPY would maintain row by row; primary keys stay."""
    return conn.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i "
        "WHERE i.tablename IN ('document_chunks', 'document_units') "
        "AND i.indexname NOT LIKE '%%_pkey'"
    ).fetchall()


def load(conn: Any, passages: int) -> float:
    """Every tenant's rows (see the module docstring); returns the seconds it took."""
    from pgvector.psycopg import register_vector

    register_vector(conn)
    rng = np.random.default_rng([passages, 7])
    t0 = time.perf_counter()
    words = np.array([f"w{i}" for i in range(VOCABULARY)], dtype=object)
    orgs = [
        conn.execute(
            "INSERT INTO organizations (name) VALUES (%s) RETURNING id", (f"t{i}",)
        ).fetchone()[0]
        for i in range(TENANTS)
    ]
    docs = max(1, passages // PASSAGES_PER_DOC)
    owners = np.where(rng.random(docs) < SHARE_A, 0, rng.integers(1, TENANTS, docs))
    owners[0] = 0  # tenant A has rows even at smoke size
    doc_ids = [uuid.UUID(bytes=rng.bytes(16), version=4) for _ in range(docs)]
    with conn.cursor().copy(
        "COPY documents (id, org_id, name, source_type, storage_path, status) FROM STDIN"
    ) as copy:
        for d, owner in zip(doc_ids, owners, strict=True):
            copy.write_row((d, orgs[owner], f"{d}.md", "SOP", "", "READY"))
    dropped = secondary_indexes(conn)
    for name, _ in dropped:
        conn.execute(f'DROP INDEX "{name}"')
    # Foreign keys are checked by a trigger per row; the generator only writes valid ids.
    conn.execute("SET session_replication_role = replica")
    cur = conn.cursor()
    for first in range(0, docs, DOCS_PER_BLOCK):
        block = range(first, min(docs, first + DOCS_PER_BLOCK))
        n_p = len(block) * PASSAGES_PER_DOC
        centre = rng.standard_normal((len(block), DIM), dtype=np.float32)
        pv = np.repeat(centre, PASSAGES_PER_DOC, axis=0)
        pv += rng.standard_normal((n_p, DIM), dtype=np.float32) * np.float32(0.8)
        uv = np.repeat(pv, UNITS_PER_PASSAGE, axis=0)
        uv += rng.standard_normal((len(uv), DIM), dtype=np.float32) * np.float32(0.8)
        uv, pv = unit(uv), unit(pv)
        texts = [" ".join(row) for row in words[rng.integers(0, VOCABULARY, (len(uv), WORDS))]]
        chunk_ids = [uuid.UUID(bytes=rng.bytes(16), version=4) for _ in range(n_p)]
        with cur.copy(
            "COPY document_chunks (id, document_id, org_id, chunk_index, chunk_text, embedding) "
            "FROM STDIN WITH (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["uuid", "uuid", "uuid", "int4", "text", "vector"])
            for p, cid in enumerate(chunk_ids):
                d = block[p // PASSAGES_PER_DOC]
                body = " ".join(texts[p * UNITS_PER_PASSAGE : (p + 1) * UNITS_PER_PASSAGE])
                copy.write_row(
                    (cid, doc_ids[d], orgs[owners[d]], p % PASSAGES_PER_DOC, body, pv[p])
                )
        with cur.copy(
            "COPY document_units (chunk_id, document_id, org_id, unit_index, char_start, "
            "char_end, unit_text, embedding) FROM STDIN WITH (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["uuid", "uuid", "uuid", "int4", "int4", "int4", "text", "vector"])
            for p, cid in enumerate(chunk_ids):
                d = block[p // PASSAGES_PER_DOC]
                org = orgs[owners[d]]
                pos = 0
                for i in range(UNITS_PER_PASSAGE):
                    j = p * UNITS_PER_PASSAGE + i
                    t = texts[j]
                    copy.write_row((cid, doc_ids[d], org, i, pos, pos + len(t), t, uv[j]))
                    pos += len(t) + 1
        if (first // DOCS_PER_BLOCK) % 5 == 4:
            print(f"  {block[-1] + 1} of {docs} documents", flush=True)
    conn.execute("RESET session_replication_role")
    copied = time.perf_counter() - t0
    conn.execute("SET maintenance_work_mem = '1GB'")
    for _, definition in dropped:
        conn.execute(definition)
    conn.execute("VACUUM ANALYZE document_chunks")
    conn.execute("VACUUM ANALYZE document_units")
    conn.execute("VACUUM ANALYZE documents")
    print(
        f"loaded {passages} passages, {passages * UNITS_PER_PASSAGE} units: COPY {copied:.0f}s, "
        f"indexes and analyze {time.perf_counter() - t0 - copied:.0f}s",
        flush=True,
    )
    return time.perf_counter() - t0


def prepare(
    server_url: str, passages: int, rebuild: bool, storage: str
) -> tuple[str, uuid.UUID, float, float, str]:
    """URL of the size's database, tenant A's id, load and index-build seconds of the stored
    rows (loaded now when missing, of another data version or ``rebuild``), and whether they
    were reused. ``storage`` "external" loads the vectors of units and passages out of line,
    as before migration 0010, into a database of its own."""
    from phi_search.tenant_index import ensure_tenant_indexes

    name = f"phi_bench_search_units_{passages}" + ("_external" if storage == "external" else "")
    url = database(server_url, name, fresh=rebuild)
    with psycopg.connect(url, autocommit=True) as conn:
        empty = not conn.execute("SELECT count(*) FROM organizations").fetchone()[0]
        meta = None
        if not rebuild and conn.execute("SELECT to_regclass('bench_units_meta')").fetchone()[0]:
            meta = conn.execute(
                "SELECT org, load_s, index_s FROM bench_units_meta "
                "WHERE version = %s AND passages = %s",
                (DATA_VERSION, passages),
            ).fetchone()
        stored = {
            r[0]
            for r in conn.execute(
                "SELECT attstorage FROM pg_attribute WHERE attname = 'embedding' "
                "AND attrelid IN ('document_chunks'::regclass, 'document_units'::regclass)"
            ).fetchall()
        }
        if meta and stored == {"e" if storage == "external" else "m"}:
            set_own_indexes_valid(conn, meta[0], True)  # an interrupted run may have left them
            return url, meta[0], meta[1], meta[2], "reused stored database"
    if not empty:
        url = database(server_url, name, fresh=True)
    with psycopg.connect(url, autocommit=True) as conn:
        if storage == "external":
            for table in ("document_chunks", "document_units"):
                conn.execute(f"ALTER TABLE {table} ALTER COLUMN embedding SET STORAGE EXTERNAL")
        load_s = load(conn, passages)
        org = conn.execute(
            "SELECT org_id FROM document_units GROUP BY org_id ORDER BY count(*) DESC LIMIT 1"
        ).fetchone()[0]
        t0 = time.perf_counter()
        conn.execute("SET maintenance_work_mem = '1GB'")
        ensure_tenant_indexes(conn, 1, org_ids=[org], log=lambda _: None)
        index_s = time.perf_counter() - t0
        conn.execute(
            "CREATE TABLE bench_units_meta (version int, passages int, org uuid, load_s float, "
            "index_s float)"
        )
        conn.execute(
            "INSERT INTO bench_units_meta VALUES (%s, %s, %s, %s, %s)",
            (DATA_VERSION, passages, org, load_s, index_s),
        )
    return url, org, load_s, index_s, "loaded now"


def set_own_indexes_valid(conn: Any, org: uuid.UUID, valid: bool) -> None:
    """Mark tenant A's own HNSW indexes valid or not: an invalid index is what a failed
    CONCURRENTLY build leaves, so the route's own-index check and the planner both skip it
    (the exact-scan set-up) without a rebuild of several minutes afterwards."""
    from phi_search.tenant_index import index_name, unit_index_name

    conn.execute(
        "UPDATE pg_index SET indisvalid = %s "
        "WHERE indexrelid IN (to_regclass(%s), to_regclass(%s))",
        (valid, index_name(org), unit_index_name(org)),
    )


def query_material(conn: Any, org: uuid.UUID, count: int) -> list[tuple[np.ndarray, str]]:
    """Questions of tenant A: one of its units moved a little, and two of the unit's words."""
    from pgvector.psycopg import register_vector

    register_vector(conn)
    rows = conn.execute(
        "SELECT embedding, unit_text FROM document_units WHERE org_id = %s AND unit_index = 0 "
        "ORDER BY id LIMIT %s",
        (org, count),
    ).fetchall()
    rng = np.random.default_rng(11)
    out = []
    for i in range(count):
        vec, words = rows[i % len(rows)]
        v = unit(np.asarray(vec.to_numpy(), dtype=np.float32) + rng.standard_normal(DIM) * 0.05)
        out.append((v, " ".join(words.split()[3:5])))
    return out


def pct(values: list[float], p: float) -> float:
    return float(np.percentile(values, p))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--passages", type=int, nargs="+", default=[25_000])
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--rebuild", action="store_true", help="reload even if a stored one fits")
    ap.add_argument("--setups", nargs="+", default=["exact", "hnsw"], choices=["exact", "hnsw"])
    ap.add_argument(
        "--no-before",
        action="store_true",
        help="skip the database with the units' vectors out of line (before migration 0010)",
    )
    smoke_argument(ap)
    args = ap.parse_args()
    if args.smoke:
        args.passages, args.queries, args.rebuild = [1_000], 10, True
    print(f"cores: {os.cpu_count()}  queries: {args.queries}  tenant A: {SHARE_A:.0%} of the rows")
    storages = ["main"] if args.no_before else ["main", "external"]
    with server() as server_url:
        for passages in args.passages:
            dbs = {}
            for storage in storages:
                url, org, load_s, index_s, note = prepare(
                    server_url, passages, args.rebuild, storage
                )
                print(
                    f"{passages * UNITS_PER_PASSAGE} units, vectors {storage} ({note}): load "
                    f"{load_s:.0f}s, tenant A's two HNSW indexes {index_s:.0f}s",
                    flush=True,
                )
                dbs[storage] = (url, org)
            run(dbs, args)
    return 0


def variants(dbs: dict[str, tuple[str, uuid.UUID]]) -> dict[str, tuple[str, Any]]:
    """label -> (storage of the database it reads, async (session, org, vector, text) ->
    comparable result); see the module docstring."""
    from sqlalchemy import text

    from phi_search import search
    from phi_search.search import (
        DOCUMENT_WEIGHT,
        PASSAGE_WEIGHT,
        SEARCH_SQL,
        TENANT_FILTER,
        UNITS_PER_CANDIDATE,
        vector_literal,
    )
    from phi_search.tenant_index import HAS_INDEX_SQL, index_name, unit_index_name

    agent = uuid.uuid4()

    async def own_index_settings(session: Any, name: str, ef: int) -> None:
        # The routes before: a round trip to check for the org's own index, and one for the
        # settings when it has one.
        own = (await session.execute(text(HAS_INDEX_SQL), {"name": name})).scalar()
        if own:
            await session.execute(
                text(
                    "SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true), "
                    "set_config('hnsw.ef_search', :ef, true), "
                    "set_config('plan_cache_mode', 'force_custom_plan', true)"
                ),
                {"ef": str(ef)},
            )

    async def today(session: Any, org: uuid.UUID, v: np.ndarray, t: str) -> list:
        await own_index_settings(session, index_name(org), 200)
        params = {"q": vector_literal(v), "org": org, "agent": agent, "text": t}
        rows = (await session.execute(text(TODAY_SQL), params)).all()
        await session.commit()
        return [r.id for r in rows]

    async def before(session: Any, org: uuid.UUID, v: np.ndarray, t: str) -> list:
        # phi_search.search as it was before this bench's changes: same query, own-index check.
        await own_index_settings(session, unit_index_name(org), max(200, 40 * UNITS_PER_CANDIDATE))
        params = {
            "q": vector_literal(v),
            "org_id": org,
            "agent_id": agent,
            "k": 5,
            "n": 40,
            "nu": 40 * UNITS_PER_CANDIDATE,
            "rrf_k": 60,
            "wp": PASSAGE_WEIGHT,
            "wd": DOCUMENT_WEIGHT,
            "text": t,
            "hybrid": True,
        }
        sql = SEARCH_SQL.format(unit_filter=TENANT_FILTER.format(t="u"), unit_type_filter="")
        rows = (await session.execute(text(sql), params)).all()
        await session.commit()
        return [(r.id, r.char_start, r.char_end, round(1.0 - float(r.distance), 6)) for r in rows]

    async def route(session: Any, org: uuid.UUID, v: np.ndarray, t: str) -> list:
        hits = await search(session, org, agent, v, t, 5, ef_search=200, candidates=40)
        return [(h.chunk_id, h.match_start, h.match_end, h.score) for h in hits]

    # Today's route reads the passages as they were stored before migration 0010.
    out = {"today (passages, hybrid)": ("external" if "external" in dbs else "main", today)}
    if "external" in dbs:
        out["small-to-big before: check + out-of-line vectors"] = ("external", before)
        out["small-to-big, out-of-line vectors"] = ("external", route)
    out["small-to-big (the route now)"] = ("main", route)
    return out


def run(dbs: dict[str, tuple[str, uuid.UUID]], args: argparse.Namespace) -> None:
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    from phi_platform.settings import to_sqlalchemy_url

    url, org = dbs["main"]
    with psycopg.connect(url, autocommit=True) as conn:
        queries = query_material(conn, org, args.queries)
        passages, units = conn.execute(
            "SELECT (SELECT count(*) FROM document_chunks WHERE org_id = %(o)s), "
            "(SELECT count(*) FROM document_units WHERE org_id = %(o)s)",
            {"o": org},
        ).fetchone()
    print(f"tenant A: {passages} passages, {units} units")
    fns = variants(dbs)
    labels = list(fns)
    warm = min(20, len(queries))

    async def measure(setup: str) -> tuple[dict[str, list[float]], dict[str, int]]:
        engines = {
            s: create_async_engine(to_sqlalchemy_url(u), pool_size=4) for s, (u, _) in dbs.items()
        }
        times: dict[str, list[float]] = {label: [] for label in labels}
        same: dict[str, int] = {label: 0 for label in labels}
        try:
            sessions = {
                label: async_sessionmaker(engines[fns[label][0]], expire_on_commit=False)()
                for label in labels
            }
            for n, (v, t) in enumerate(queries[:warm] + queries):
                results = {}
                # Rotate the order so no variant always runs first (or on a cache the one
                # before it warmed).
                for label in labels[n % len(labels) :] + labels[: n % len(labels)]:
                    storage, fn = fns[label]
                    t0 = time.perf_counter()
                    results[label] = await fn(sessions[label], dbs[storage][1], v, t)
                    if n >= warm:
                        times[label].append((time.perf_counter() - t0) * 1000)
                new = labels[-1]
                for label in labels[1:]:
                    same[label] += results[label] == results[new]
                if "external" in dbs:
                    # The same database and index: the results must not change.
                    a, b = labels[1], labels[2]
                    assert results[a] == results[b], (t, results[a], results[b])
                    if setup == "exact":  # exact scans of the same rows: no graph in between
                        assert results[b] == results[new], f"{b} and {new} differ on {t!r}"
            for session in sessions.values():
                await session.close()
        finally:
            for engine in engines.values():
                await engine.dispose()
        return times, same

    for setup in args.setups:
        for u, o in dbs.values():
            with psycopg.connect(u, autocommit=True) as conn:
                set_own_indexes_valid(conn, o, setup == "hnsw")
        try:
            before = os.getloadavg()[0]
            times, same = asyncio.run(measure(setup))
            after = os.getloadavg()[0]
        finally:
            for u, o in dbs.values():
                with psycopg.connect(u, autocommit=True) as conn:
                    set_own_indexes_valid(conn, o, True)
        base = pct(times[labels[0]], 95)
        print(f"set-up: {setup}; load average {before:.1f} before, {after:.1f} after")
        print(f"  {'query':<50} {'p50 ms':>7} {'p95 ms':>7} {'p95/today':>9} {'same hits':>9}")
        for label in labels:
            p95 = pct(times[label], 95)
            agree = f"{same[label] / (len(queries) + warm):.2f}" if label != labels[0] else ""
            print(
                f"  {label:<50} {pct(times[label], 50):>7.1f} {p95:>7.1f} {p95 / base:>9.2f} "
                f"{agree:>9}"
            )
        sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())

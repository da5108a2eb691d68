"""Latency of the search query: today's (passages only) against small-to-big (units + passages).

    python bench/search_units.py                    # 25k passages / 100k units, 100 queries
    python bench/search_units.py --passages 250000  # 1M units (long on 2 cores)
    python bench/search_units.py --smoke

Synthetic corpus: documents of 20 passages, each passage with 4 units (the measured mean on
the labelled sets is 3.5-4.5); vectors are a document direction plus a passage and a unit
part, normalised (384-d); texts are words drawn from a 2,000-word vocabulary so that the
full-text half does real work. Tenant A holds 10% of the rows, the rest belongs to 99 others.
Both queries run as the route runs them, for tenant A, in two set-ups: exact scan of the
tenant's rows (organizations under PHI_SEARCH_TENANT_INDEX_MIN_CHUNKS) and the tenant's own
HNSW indexes (``phi_search.tenant_index``, one on each table). Today's query is the
pre-issue-13 hybrid (vector top 40 fused with the all-words full-text top 40 over passages);
the new one is ``phi_search.search`` (passages ranked by their best unit, fused with the
units' full text). Each figure: p50/p95 ms over the
queries after a warm-up, on this machine's 2 cores.
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


def load(conn: Any, passages: int, rng: np.random.Generator) -> tuple[uuid.UUID, list, list]:
    """Rows for every tenant; returns tenant A's id and some of its unit vectors and texts."""
    from pgvector.psycopg import register_vector

    register_vector(conn)
    words = np.array([f"w{i}" for i in range(2000)])
    orgs = [
        conn.execute(
            "INSERT INTO organizations (name) VALUES (%s) RETURNING id", (f"t{i}",)
        ).fetchone()[0]
        for i in range(TENANTS)
    ]
    docs = passages // PASSAGES_PER_DOC
    owners = np.where(rng.random(docs) < SHARE_A, 0, rng.integers(1, TENANTS, docs))
    doc_ids = [uuid.uuid4() for _ in range(docs)]
    with conn.cursor().copy(
        "COPY documents (id, org_id, name, source_type, storage_path, status) FROM STDIN"
    ) as copy:
        for d, owner in zip(doc_ids, owners, strict=True):
            copy.write_row((d, orgs[owner], f"{d}.md", "SOP", "", "READY"))
    samples_v: list = []
    samples_t: list = []
    t0 = time.perf_counter()
    with (
        conn.cursor().copy(
            "COPY document_chunks (id, document_id, org_id, chunk_index, chunk_text, embedding, "
            "metadata) FROM STDIN"
        ) as chunks,
    ):
        pending_units = []
        for d, owner in zip(doc_ids, owners, strict=True):
            centre = rng.standard_normal(DIM)
            for p in range(PASSAGES_PER_DOC):
                pv = centre + rng.standard_normal(DIM) * 0.8
                uv = unit(pv + rng.standard_normal((UNITS_PER_PASSAGE, DIM)) * 0.8)
                texts = [" ".join(rng.choice(words, 40)) for _ in range(UNITS_PER_PASSAGE)]
                body = " ".join(texts)
                cid = uuid.uuid4()
                chunks.write_row((cid, d, orgs[owner], p, body, unit(pv), '{"heading_path": []}'))
                pos = 0
                for i, t in enumerate(texts):
                    pending_units.append((cid, d, orgs[owner], i, pos, pos + len(t), t, "", uv[i]))
                    pos += len(t) + 1
                if owner == 0 and len(samples_v) < 1000:
                    samples_v.append(uv[0])
                    samples_t.append(" ".join(texts[0].split()[3:5]))
    with conn.cursor().copy(
        "COPY document_units (chunk_id, document_id, org_id, unit_index, char_start, char_end, "
        "unit_text, heading_path, embedding) FROM STDIN"
    ) as copy:
        for row in pending_units:
            copy.write_row(row)
    conn.execute("ANALYZE")
    print(
        f"loaded {passages} passages, {len(pending_units)} units in "
        f"{time.perf_counter() - t0:.0f}s",
        flush=True,
    )
    return orgs[0], samples_v, samples_t


def stored_sample(conn: Any) -> tuple[uuid.UUID, list, list]:
    """Tenant A and query material from rows a previous run loaded (``--reuse``); its own
    indexes are dropped so that the exact-scan set-up is one."""
    from pgvector.psycopg import register_vector

    register_vector(conn)
    org = conn.execute(
        "SELECT org_id FROM document_units GROUP BY org_id ORDER BY count(*) DESC LIMIT 1"
    ).fetchone()[0]
    for (name,) in conn.execute(
        "SELECT relname FROM pg_class WHERE relname LIKE 'ix_document_%%_hnsw_org_%%'"
    ).fetchall():
        conn.execute(f'DROP INDEX "{name}"')
    rows = conn.execute(
        "SELECT embedding, unit_text FROM document_units WHERE org_id = %s AND unit_index = 0 "
        "LIMIT 1000",
        (org,),
    ).fetchall()
    return (
        org,
        [np.asarray(r[0].to_numpy(), dtype=np.float32) for r in rows],
        [" ".join(r[1].split()[3:5]) for r in rows],
    )


def pct(values: list[float], p: float) -> float:
    return float(np.percentile(values, p))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--passages", type=int, default=25_000)
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--reuse", action="store_true", help="keep the rows a previous run loaded")
    smoke_argument(ap)
    args = ap.parse_args()
    if args.smoke:
        args.passages, args.queries = 1_000, 10
    with server() as server_url:
        url = database(server_url, f"phi_bench_search_units_{args.passages}", fresh=not args.reuse)
        return run(url, args)


def run(url: str, args: argparse.Namespace) -> int:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    from phi_platform.settings import to_sqlalchemy_url
    from phi_search import search
    from phi_search.tenant_index import HAS_INDEX_SQL, ensure_tenant_indexes, index_name

    rng = np.random.default_rng(7)
    with psycopg.connect(url, autocommit=True) as conn:
        loaded = conn.execute("SELECT count(*) FROM document_units").fetchone()[0]
        if loaded:
            org, vectors, texts = stored_sample(conn)
        else:
            org, vectors, texts = load(conn, args.passages, rng)
        tenant_rows = conn.execute(
            "SELECT (SELECT count(*) FROM document_chunks WHERE org_id = %(o)s), "
            "(SELECT count(*) FROM document_units WHERE org_id = %(o)s)",
            {"o": org},
        ).fetchone()
    agent = uuid.uuid4()
    queries = [
        (unit(vectors[i % len(vectors)] + rng.standard_normal(DIM) * 0.05), texts[i % len(texts)])
        for i in range(args.queries)
    ]
    print(
        f"cores: {os.cpu_count()}  tenant A: {tenant_rows[0]} passages, {tenant_rows[1]} units; "
        f"{args.queries} queries"
    )
    print(f"{'set-up':<22} {'query':<34} {'p50 ms':>7} {'p95 ms':>7}")

    def lit(v: np.ndarray) -> str:
        return "[" + ",".join(f"{x:.7g}" for x in v) + "]"

    engine = create_async_engine(to_sqlalchemy_url(url), pool_size=1)
    sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def today_search(session: Any, v: np.ndarray, t: str) -> None:
        # The route as it was: own-index check, settings when indexed, the query, commit.
        own = (await session.execute(text(HAS_INDEX_SQL), {"name": index_name(org)})).scalar()
        if own:
            await session.execute(
                text(
                    "SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true), "
                    "set_config('hnsw.ef_search', '200', true), "
                    "set_config('plan_cache_mode', 'force_custom_plan', true)"
                )
            )
        params = {"q": lit(v), "org": org, "agent": agent, "text": t}
        (await session.execute(text(TODAY_SQL), params)).all()
        await session.commit()

    async def new_search(session: Any, v: np.ndarray, t: str) -> None:
        await search(session, org, agent, v, t, 5, ef_search=200, candidates=40)

    async def timed(fn: Any) -> list[float]:
        times = []
        async with sessions() as session:
            for n, (v, t) in enumerate(queries):
                t0 = time.perf_counter()
                await fn(session, v, t)
                if n >= 3:
                    times.append((time.perf_counter() - t0) * 1000)
        return times

    loop = asyncio.new_event_loop()
    for setup in ("exact scan", "tenant HNSW indexes"):
        with psycopg.connect(url, autocommit=True) as conn:
            if setup != "exact scan":
                t0 = time.perf_counter()
                conn.execute("SET maintenance_work_mem = '1GB'")
                ensure_tenant_indexes(conn, 1, org_ids=[org], log=lambda _: None)
                print(f"(tenant A's two HNSW indexes built in {time.perf_counter() - t0:.0f}s)")
        for label, fn in (
            ("today (passages, hybrid)", today_search),
            ("small-to-big (the route, units)", new_search),
        ):
            loop.run_until_complete(timed(fn))  # warm the cache
            t = loop.run_until_complete(timed(fn))
            print(f"{setup:<22} {label:<34} {pct(t, 50):>7.1f} {pct(t, 95):>7.1f}", flush=True)
    loop.run_until_complete(engine.dispose())
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Latency of memory search against document search for one tenant of the same size.

    python bench/memory_search.py                       # 100k memories and 100k units
    python bench/memory_search.py --rows 20000 --smoke  # (make test runs --smoke)

One database (in the bench server of bench_db.py) holds, for tenant A, ``--rows`` memories
(half its agent's, half the organization's) and ``--rows`` document units (passages of 4 units,
documents of 20 passages), plus a second tenant with a tenth as many of each, so the tenant
filter does real work. Vectors are 384-d: a document (or a topic of 50 memories) direction plus
a part of their own, normalised; texts are words of a 2,000-word vocabulary, so the full-text
half of both searches matches. Tenant A gets its own HNSW indexes the way the workers build
them (``phi_search.tenant_index``, both groups).

Queries run as the two routes run them (``phi_search.search`` and
``phi_search.memory.search_memory_vectors``, the question already embedded: the query cache
serves both alike), for tenant A's agent, through one async SQLAlchemy session each,
interleaved (each question through both before the next, the order rotating) so the load of
the shared machine hits both alike. Two set-ups: the tenant's own HNSW indexes, and an exact
scan (indexes marked invalid, as a failed build leaves them). p50/p95 ms after a warm-up.
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
WORDS = 25
VOCABULARY = 2000
UNITS_PER_PASSAGE, PASSAGES_PER_DOC, MEMORIES_PER_TOPIC = 4, 20, 50


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


def texts(rng: np.random.Generator, n: int) -> list[str]:
    words = rng.integers(0, VOCABULARY, (n, WORDS))
    return [" ".join(f"w{w}" for w in row) for row in words]


def load_tenant(conn: Any, rng: np.random.Generator, rows: int) -> tuple[uuid.UUID, uuid.UUID]:
    """One organization with an agent, ``rows`` memories and ``rows`` document units."""
    org = conn.execute("INSERT INTO organizations (name) VALUES ('t') RETURNING id").fetchone()[0]
    agent = conn.execute(
        "INSERT INTO agents (org_id, name) VALUES (%s, 'a') RETURNING id", (org,)
    ).fetchone()[0]
    topics = unit(rng.normal(size=(max(1, rows // MEMORIES_PER_TOPIC), DIM)))
    vectors = unit(topics[np.arange(rows) % len(topics)] + 0.8 * unit(rng.normal(size=(rows, DIM))))
    with conn.cursor().copy(
        "COPY memories (org_id, agent_id, text, embedding, source) FROM STDIN"
    ) as copy:
        for i, (t, v) in enumerate(zip(texts(rng, rows), vectors, strict=True)):
            copy.write_row((org, agent if i % 2 else None, t, v, "task"))
    passages = max(1, rows // UNITS_PER_PASSAGE)
    docs = max(1, passages // PASSAGES_PER_DOC)
    doc_dirs = unit(rng.normal(size=(docs, DIM)))
    doc_ids = [uuid.uuid4() for _ in range(docs)]
    with conn.cursor().copy(
        "COPY documents (id, org_id, agent_id, name, source_type, storage_path, status) FROM STDIN"
    ) as copy:
        for d in doc_ids:
            copy.write_row((d, org, agent, "doc", "SOP", "x", "READY"))
    chunk_ids = [uuid.uuid4() for _ in range(passages)]
    owner = np.arange(passages) % docs
    chunk_vecs = unit(doc_dirs[owner] + 0.8 * unit(rng.normal(size=(passages, DIM))))
    with conn.cursor().copy(
        "COPY document_chunks (id, document_id, org_id, agent_id, chunk_index, chunk_text, "
        "embedding) FROM STDIN"
    ) as copy:
        rows_out = zip(chunk_ids, texts(rng, passages), chunk_vecs, strict=True)
        for i, (c, t, v) in enumerate(rows_out):
            copy.write_row((c, doc_ids[owner[i]], org, agent, i, t, v))
    n_units = passages * UNITS_PER_PASSAGE
    of = np.arange(n_units) // UNITS_PER_PASSAGE
    unit_vecs = unit(chunk_vecs[of] + 0.6 * unit(rng.normal(size=(n_units, DIM))))
    with conn.cursor().copy(
        "COPY document_units (chunk_id, document_id, org_id, agent_id, unit_index, char_start, "
        "char_end, unit_text, embedding) FROM STDIN"
    ) as copy:
        for i, (t, v) in enumerate(zip(texts(rng, n_units), unit_vecs, strict=True)):
            p = of[i]
            copy.write_row((chunk_ids[p], doc_ids[owner[p]], org, agent, i % 4, 0, 10, t, v))
    return org, agent


def set_own_indexes_valid(conn: Any, org: uuid.UUID, valid: bool) -> None:
    conn.execute(
        "UPDATE pg_index SET indisvalid = %s WHERE indexrelid IN "
        "(SELECT oid FROM pg_class WHERE relname LIKE %s)",
        (valid, f"%_hnsw_org_{org.hex}"),
    )


def pct(values: list[float], p: float) -> float:
    return float(np.percentile(values, p)) if values else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000, help="memories and units of tenant A")
    ap.add_argument("--queries", type=int, default=200)
    smoke_argument(ap)
    args = ap.parse_args()
    if args.smoke:
        args.rows, args.queries = 1_000, 10
    from pgvector.psycopg import register_vector

    from phi_search.tenant_index import ensure_tenant_indexes

    print(f"cores: {os.cpu_count()}  tenant A: {args.rows} memories and {args.rows} units")
    with server() as server_url:
        url = database(server_url, "bench_memory_search")
        rng = np.random.default_rng(args.rows)
        with psycopg.connect(url, autocommit=True) as conn:
            register_vector(conn)
            t0 = time.perf_counter()
            org, agent = load_tenant(conn, rng, args.rows)
            load_tenant(conn, rng, max(100, args.rows // 10))
            conn.execute("ANALYZE")
            t1 = time.perf_counter()
            built = ensure_tenant_indexes(conn, args.rows // 2, org_ids=[org], log=lambda _: None)
            print(
                f"load {t1 - t0:.0f}s; tenant A's HNSW indexes ({len(built)}) "
                f"{time.perf_counter() - t1:.0f}s",
                flush=True,
            )
            queries = [
                (unit(v.to_numpy() + 0.5 * unit(rng.normal(size=DIM))), " ".join(t.split()[:2]))
                for v, t in conn.execute(
                    "SELECT embedding, text FROM memories WHERE org_id = %s "
                    "ORDER BY random() LIMIT %s",
                    (org, args.queries),
                ).fetchall()
            ]
        for setup in ("hnsw", "exact"):
            with psycopg.connect(url, autocommit=True) as conn:
                set_own_indexes_valid(conn, org, setup == "hnsw")
            try:
                before = os.getloadavg()[0]
                times = asyncio.run(measure(url, org, agent, queries))
                after = os.getloadavg()[0]
            finally:
                with psycopg.connect(url, autocommit=True) as conn:
                    set_own_indexes_valid(conn, org, True)
            print(f"set-up: {setup}; load average {before:.1f} before, {after:.1f} after")
            print(f"  {'search':<40} {'p50 ms':>7} {'p95 ms':>7}")
            for label, values in times.items():
                print(f"  {label:<40} {pct(values, 50):>7.1f} {pct(values, 95):>7.1f}")
            sys.stdout.flush()
    return 0


async def measure(
    url: str, org: uuid.UUID, agent: uuid.UUID, queries: list[tuple[np.ndarray, str]]
) -> dict[str, list[float]]:
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    from phi_platform.settings import to_sqlalchemy_url
    from phi_search import search
    from phi_search.memory import search_memory_vectors

    async def documents(session: Any, v: np.ndarray, t: str) -> int:
        return len(await search(session, org, agent, v, t, 5, ef_search=200, candidates=40))

    async def memories(session: Any, v: np.ndarray, t: str) -> int:
        return len(await search_memory_vectors(session, org, agent, v, t, 5))

    fns = {"documents (phi_search.search)": documents, "memories (both namespaces)": memories}
    labels = list(fns)
    times: dict[str, list[float]] = {label: [] for label in labels}
    engine = create_async_engine(to_sqlalchemy_url(url), pool_size=2)
    warm = min(20, len(queries))
    try:
        sessions = {label: async_sessionmaker(engine, expire_on_commit=False)() for label in labels}
        for n, (v, t) in enumerate(queries[:warm] + queries):
            for label in labels[n % 2 :] + labels[: n % 2]:
                t0 = time.perf_counter()
                found = await fns[label](sessions[label], v, t)
                assert found, f"{label} found nothing for {t!r}"
                if n >= warm:
                    times[label].append((time.perf_counter() - t0) * 1000)
        for session in sessions.values():
            await session.close()
    finally:
        await engine.dispose()
    return times


if __name__ == "__main__":
    sys.exit(main())

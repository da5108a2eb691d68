"""Search latency and recall of the tenant-filtered vector query, with and without HNSW.

    python bench/search.py --sizes 10000 100000        # `make bench-search`
    python bench/search.py --sizes 1000000             # `make bench-search-1m` (long)

Loads N synthetic 384-d chunks (a mixture of Gaussian clusters, normalised, like sentence
embeddings) into document_chunks, one tenant holding 10% of them and the rest spread over
nine others, then runs the same SQL as the search route (pgvector iterative index scan,
relaxed order, ef_search from the settings default) for 200 queries of that tenant. Recall@10
is measured against exact top-10 computed in numpy over the tenant's vectors; the baseline is
the same query with index scans disabled (exact scan of the tenant's rows) in the same run.
Uses DATABASE_URL if set, otherwise an embedded PostgreSQL under .phi/bench-pg.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
import uuid
import warnings
from pathlib import Path

import numpy as np
import psycopg

warnings.filterwarnings("ignore", module="platformdirs")
ROOT = Path(__file__).resolve().parents[1]
DIM = 384
TENANTS = 10


def database(name: str) -> str:
    from phi_platform.db.migrate import upgrade
    from phi_platform.embedded_pg import EmbeddedPostgres, free_port
    from phi_platform.settings import to_sqlalchemy_url

    if os.environ.get("DATABASE_URL"):
        url = os.environ["DATABASE_URL"]
    else:
        pg = EmbeddedPostgres(root=ROOT / ".phi" / "bench-pg", port=free_port())
        pg.stop()
        pg.start()
        pg.drop_database(name)
        url = pg.ensure_database(name)
    upgrade(to_sqlalchemy_url(url))
    return url.replace("postgresql+psycopg://", "postgresql://")


def synthetic(n: int, rng: np.random.Generator, centers: np.ndarray) -> np.ndarray:
    labels = rng.integers(0, len(centers), n)
    x = centers[labels] + rng.normal(0, 0.6, (n, DIM)).astype(np.float32) / np.sqrt(DIM) * 4
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def load(conn: psycopg.Connection, n: int, rng: np.random.Generator, centers: np.ndarray):
    orgs, docs = [], []
    for t in range(TENANTS):
        org = conn.execute(
            "INSERT INTO organizations (name) VALUES (%s) RETURNING id", (f"bench {t}",)
        ).fetchone()[0]
        doc = conn.execute(
            "INSERT INTO documents (org_id, name, source_type, storage_path, status) "
            "VALUES (%s, 'bench', 'OTHER', 'none', 'READY') RETURNING id",
            (org,),
        ).fetchone()[0]
        orgs.append(org)
        docs.append(doc)
    vectors = synthetic(n, rng, centers)
    # Tenant 0 holds 10%; the others share the rest.
    owner = np.where(rng.random(n) < 0.10, 0, rng.integers(1, TENANTS, n))
    conn.execute("DROP INDEX IF EXISTS ix_document_chunks_embedding_hnsw")
    t0 = time.perf_counter()
    step = 20000
    for start in range(0, n, step):
        buf = io.StringIO()
        for i in range(start, min(n, start + step)):
            vec = "[" + ",".join(f"{v:.6f}" for v in vectors[i]) + "]"
            t = owner[i]
            buf.write(f"{docs[t]}\t{orgs[t]}\t{i}\tchunk {i}\t{vec}\n")
        with conn.cursor().copy(
            "COPY document_chunks (document_id, org_id, chunk_index, chunk_text, embedding) "
            "FROM STDIN"
        ) as copy:
            copy.write(buf.getvalue())
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    conn.execute("SET maintenance_work_mem = '1GB'")
    conn.execute(
        "CREATE INDEX ix_document_chunks_embedding_hnsw ON document_chunks "
        "USING hnsw (embedding vector_cosine_ops)"
    )
    index_s = time.perf_counter() - t0
    conn.execute("ANALYZE document_chunks")
    tenant_ids = np.nonzero(owner == 0)[0]
    return orgs[0], vectors[tenant_ids], tenant_ids, load_s, index_s


QUERY = """
WITH hits AS MATERIALIZED (
    SELECT c.chunk_index, c.embedding <=> %(q)s::vector AS distance
      FROM document_chunks c
     WHERE c.org_id = %(org)s AND (c.agent_id = %(agent)s OR c.agent_id IS NULL)
     ORDER BY c.embedding <=> %(q)s::vector
     LIMIT 10
)
SELECT chunk_index FROM hits ORDER BY distance
"""


def run_queries(conn, org, queries, *, index: bool, ef: int) -> tuple[list[float], list[list[int]]]:
    times, results = [], []
    agent = uuid.uuid4()
    for q in queries:
        lit = "[" + ",".join(f"{v:.6f}" for v in q) + "]"
        t0 = time.perf_counter()
        with conn.transaction():
            if index:
                conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
                conn.execute(f"SET LOCAL hnsw.ef_search = {ef}")
            else:
                conn.execute("SET LOCAL enable_indexscan = off")
                conn.execute("SET LOCAL enable_bitmapscan = on")
            rows = conn.execute(QUERY, {"q": lit, "org": org, "agent": agent}).fetchall()
        times.append((time.perf_counter() - t0) * 1000)
        results.append([r[0] for r in rows])
    return times, results


def pct(values: list[float], p: float) -> float:
    return float(np.percentile(values, p))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--ef", type=int, nargs="+", default=[40, 100])
    args = ap.parse_args()
    print(f"cores: {os.cpu_count()}  dim: {DIM}  tenant share: 10%  queries: {args.queries}")
    print(f"{'chunks':>9} {'mode':<16} {'p50 ms':>8} {'p95 ms':>8} {'recall@10':>10}")
    for n in args.sizes:
        rng = np.random.default_rng(n)
        centers = rng.normal(0, 1, (200, DIM)).astype(np.float32)
        centers /= np.linalg.norm(centers, axis=1, keepdims=True)
        url = database(f"phi_bench_search_{n}")
        with psycopg.connect(url, autocommit=True) as conn:
            org, tenant_vecs, tenant_ids, load_s, index_s = load(conn, n, rng, centers)
            print(f"{n:>9} loaded in {load_s:.1f}s, HNSW built in {index_s:.1f}s", flush=True)
            queries = synthetic(args.queries, rng, centers)
            exact = [set(tenant_ids[np.argsort(-(tenant_vecs @ q))[:10]].tolist()) for q in queries]
            modes = [("no index (exact)", False, 0)] + [(f"hnsw ef={e}", True, e) for e in args.ef]
            for label, use_index, ef in modes:
                run_queries(conn, org, queries[:10], index=use_index, ef=ef)  # warm cache
                times, results = run_queries(conn, org, queries, index=use_index, ef=ef)
                recall = statistics.mean(
                    len(set(r) & e) / 10 for r, e in zip(results, exact, strict=True)
                )
                print(
                    f"{n:>9} {label:<16} {pct(times, 50):>8.2f} {pct(times, 95):>8.2f} "
                    f"{recall:>10.3f}",
                    flush=True,
                )


if __name__ == "__main__":
    sys.exit(main())

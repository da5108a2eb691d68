"""Ingestion speed: pages per second end to end and per stage (extract, chunk, embed, insert).

    python bench/ingestion.py [--pages 50] [--docs 3] [--smoke]

Generates SOP-like PDFs with reportlab, stores them like an upload would, and runs the same
pipeline as the worker job (documents/ingest.py) against the bench PostgreSQL (bench_db.py)
with the local embedder. The baseline in the same run is
extraction alone, the floor any pipeline pays.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path

warnings.filterwarnings("ignore", module="platformdirs")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from bench_db import database, server, smoke_argument  # noqa: E402
from pdf_extraction import build_pdf, make_pages  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=50)
    ap.add_argument("--docs", type=int, default=3)
    smoke_argument(ap)
    args = ap.parse_args()
    if args.smoke:
        args.pages, args.docs = 2, 1
    with server() as server_url:
        run(database(server_url, "phi_bench_ingestion"), args.pages, args.docs)


def run(url: str, n_pages: int, n_docs: int) -> None:
    from phi_core_api.documents.extraction import ExtractionLimits, extract
    from phi_core_api.documents.ingest import connect, ingest
    from phi_core_api.storage import LocalFileStorage
    from phi_llm.embeddings import LocalE5Provider

    provider = LocalE5Provider()
    provider.embed_query("warm-up")
    storage = LocalFileStorage(Path(tempfile.mkdtemp(prefix="phi-bench-files-")))
    totals = {"extract": 0.0, "chunk": 0.0, "embed": 0.0, "insert": 0.0}
    pages = chunks = 0
    wall = 0.0
    extract_only = 0.0
    with connect(url) as conn:
        org = conn.execute(
            "INSERT INTO organizations (name) VALUES ('bench') RETURNING id"
        ).fetchone()[0]
        for d in range(n_docs):
            data = build_pdf(make_pages(n_pages, seed=d))
            t0 = time.perf_counter()
            extract(data, "x.pdf", ExtractionLimits())
            extract_only += time.perf_counter() - t0
            key = f"{org}/{uuid.uuid4()}.pdf"
            storage.save(key, data)
            doc = conn.execute(
                "INSERT INTO documents (org_id, name, source_type, storage_path, size_bytes) "
                "VALUES (%s, 'sop.pdf', 'SOP', %s, %s) RETURNING id",
                (org, key, len(data)),
            ).fetchone()[0]
            t0 = time.perf_counter()
            report = ingest(conn, storage, provider, doc, ExtractionLimits())
            wall += time.perf_counter() - t0
            assert report.status == "READY", report
            pages += report.pages or 0
            chunks += report.chunks
            for k, v in report.seconds.items():
                totals[k] += v
    print(f"cores: {os.cpu_count()}  docs: {n_docs} x {n_pages} pages  chunks: {chunks}")
    print(f"end to end: {pages / wall:.1f} pages/s ({chunks / wall:.1f} chunks/s)")
    for stage, secs in totals.items():
        print(f"  {stage:<8} {secs:7.2f}s  {pages / secs if secs else float('inf'):10.1f} pages/s")
    print(f"baseline, extraction alone: {pages / extract_only:.1f} pages/s")


if __name__ == "__main__":
    main()

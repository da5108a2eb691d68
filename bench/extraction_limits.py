"""Peak memory and time of a real worker on hostile files (issue 12, item 4).

    python bench/extraction_limits.py            # 25 MB text, DOCX with ~190 MB of XML
    python bench/extraction_limits.py --smoke    # small files and limits, seconds

Starts ``python -m phi_core_api.worker`` on a bench database, queues one document at a time the
way the API does (a PENDING row, the file in the data dir, an ingestion job) and records how
the document ends (READY or FAILED with its reason), the time it took, and the worker's peak
resident memory (VmHWM) before and after it.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
from pathlib import Path

warnings.filterwarnings("ignore", module="platformdirs")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_db import database, server, smoke_argument  # noqa: E402


def text_file(mb: int) -> bytes:
    line = b"Check the seal number of every trailer against the manifest before unloading.\n"
    return line * (mb * 1024 * 1024 // len(line))


def docx_file(xml_mb: int, varied: bool = False) -> bytes:
    """A DOCX whose word/document.xml is ``xml_mb`` MB of paragraphs: one paragraph repeated
    (inflates ~250x, refused by the ratio cap), or ``varied`` random words (~4x, which passes
    the archive checks and is read by the streaming reader until the character limit)."""
    import docx
    import numpy as np

    document = docx.Document()
    document.add_paragraph("x")
    base = io.BytesIO()
    document.save(base)
    para = (
        b"<w:p><w:r><w:t>Every pallet is checked against the advance shipping notice "
        b"before it is put away in its location.</w:t></w:r></w:p>"
    )
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(base.getvalue())) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            body = src.read(info)
            if info.filename != "word/document.xml":
                dst.writestr(info, body)
                continue
            head, tail = body.split(b"<w:body>")
            rng = np.random.default_rng(1)
            words = np.array([f"word{i}".encode() for i in range(5000)])
            with dst.open("word/document.xml", "w", force_zip64=True) as member:
                member.write(head + b"<w:body>")
                written = 0
                while written < xml_mb * 1024 * 1024:
                    if varied:
                        picks = rng.choice(words, (1000, 14))
                        block = b"".join(
                            b"<w:p><w:r><w:t>" + b" ".join(row) + b"</w:t></w:r></w:p>"
                            for row in picks
                        )
                    else:
                        block = para * 1000
                    member.write(block)
                    written += len(block)
                member.write(tail)
    return out.getvalue()


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def enqueue(settings: object, document_id: object, org_id: object) -> None:
    from phi_core_api.documents.service import enqueue_ingestion
    from phi_core_api.jobs import create_job_app

    app = create_job_app(settings)  # type: ignore[arg-type]
    async with app.open_async():
        await enqueue_ingestion(app, document_id, org_id)  # type: ignore[arg-type]


def main() -> int:
    ap = argparse.ArgumentParser()
    smoke_argument(ap)
    args = ap.parse_args()
    with server() as server_url:
        return run(args.smoke, database(server_url, "phi_bench_extraction_limits"))


def run(smoke: bool, url: str) -> int:

    from phi_core_api.documents.ingest import connect
    from phi_core_api.settings import CoreApiSettings
    from phi_core_api.storage import LocalFileStorage

    data_dir = Path(tempfile.mkdtemp(prefix="phi-limits-"))
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "PHI_DATA_DIR": str(data_dir),
        "PHI_WORKER_CONCURRENCY": "1",
        "PYTHONUNBUFFERED": "1",
    }
    if smoke:
        env["PHI_MAX_EXTRACTED_CHARS"] = "20000"
        files = [
            ("big.txt", text_file(1)),
            ("big.docx", docx_file(2)),
            ("varied.docx", docx_file(2, varied=True)),
        ]
    else:
        files = [
            ("big.txt", text_file(25)),
            ("big.docx", docx_file(190)),
            ("varied.docx", docx_file(190, varied=True)),
        ]
    os.environ.update(env)
    settings = CoreApiSettings()
    storage = LocalFileStorage(data_dir / "files")
    worker = subprocess.Popen(
        [sys.executable, "-m", "phi_core_api.worker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert worker.stdout is not None
        for line in worker.stdout:
            if "worker ready" in line:
                break
        else:
            raise SystemExit("the worker did not start")
        print(f"cores: {os.cpu_count()}  worker pid {worker.pid}")
        print(f"worker ready: peak RSS {peak_rss_mb(worker.pid):.0f} MB")
        conn = connect(url)
        org = conn.execute(
            "INSERT INTO organizations (name) VALUES ('limits bench') RETURNING id"
        ).fetchone()[0]
        for name, data in files:
            doc_id = conn.execute(
                "INSERT INTO documents (org_id, name, source_type, storage_path, size_bytes, "
                "status) VALUES (%s, %s, 'OTHER', '', %s, 'PENDING') RETURNING id",
                (org, name, len(data)),
            ).fetchone()[0]
            path = f"{org}/{doc_id}{Path(name).suffix}"
            storage.save(path, data)
            conn.execute("UPDATE documents SET storage_path = %s WHERE id = %s", (path, doc_id))
            t0 = time.perf_counter()
            asyncio.run(enqueue(settings, doc_id, org))
            while True:
                status, error = conn.execute(
                    "SELECT status, error FROM documents WHERE id = %s", (doc_id,)
                ).fetchone()
                if status in ("READY", "FAILED"):
                    break
                if worker.poll() is not None:
                    raise SystemExit("the worker died")
                time.sleep(0.2)
            print(
                f"{name}: {len(data) / 1024 / 1024:.1f} MB file -> {status} in "
                f"{time.perf_counter() - t0:.1f}s, worker peak RSS {peak_rss_mb(worker.pid):.0f} MB"
                f" ({error or 'no error'})",
                flush=True,
            )
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())

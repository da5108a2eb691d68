"""Export of an organization's audit log: time and the API process's memory while streaming.

Starts the real core API (one uvicorn worker) on the bench PostgreSQL, writes N audit events
for one organization straight into the table (the same columns the recorder fills), then
downloads GET /orgs/{org_id}/audit/export as CSV and as JSON Lines for 10% of N and for N.
The API's peak resident memory (VmHWM from /proc) is read after each download: an export
that streams in batches keeps it flat however many events there are. For comparison, the
same events read into one list and written as one CSV string (what an export that builds
the file before sending would hold) are measured with tracemalloc in this process.

    .venv/bin/python bench/audit_export.py [--events 100000] [--smoke]

The smoke run (make test) uses 2,000 events.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import httpx
import psycopg

warnings.filterwarnings("ignore", module="platformdirs")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from agents_list import serve  # noqa: E402
from bench_db import BENCH_DIR, database, server, smoke_argument  # noqa: E402

from phi_platform.embedded_pg import free_port  # noqa: E402

_FILL = """
INSERT INTO audit_events (org_id, occurred_at, actor_type, actor_id, actor_label, action,
    target_type, target_id, target_label, details, request_id, client_address)
SELECT %(org)s::uuid, now() - make_interval(secs => g), 'user', %(user)s::uuid, 'ana@example.com',
    'local_agent_key.created', 'local_agent_key', gen_random_uuid()::text, 'warehouse-pc',
    jsonb_build_object('name', 'warehouse-pc', 'prefix', 'phia_' || substr(md5(g::text), 1, 8),
        'agent_id', %(user)s::text, 'agent_name', 'Dispatch Desk'),
    md5(g::text), '10.0.0.' || (g %% 250)
FROM generate_series(%(first)s::int, %(last)s::int) AS g
"""


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc status")


def download(
    client: httpx.Client, path: str, fmt: str, headers: dict[str, str]
) -> dict[str, float]:
    started = time.perf_counter()
    first = None
    size = lines = 0
    with client.stream("GET", path, params={"format": fmt}, headers=headers) as r:
        assert r.status_code == 200, r.read()
        for chunk in r.iter_bytes():
            if first is None:
                first = time.perf_counter() - started
            size += len(chunk)
            lines += chunk.count(b"\n")
    return {
        "seconds": time.perf_counter() - started,
        "first_byte_ms": (first or 0) * 1000,
        "mb": size / 1e6,
        "lines": lines,
    }


def whole_file_baseline(url: str, org_id: str) -> tuple[float, int]:
    """MB of Python heap at the peak of reading every event and writing one CSV string."""
    tracemalloc.start()
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT * FROM audit_events WHERE org_id = %s ORDER BY occurred_at DESC, id DESC",
            (org_id,),
        ).fetchall()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow(row)
    text = buffer.getvalue()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1e6, len(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    smoke_argument(parser)
    args = parser.parse_args()
    events = 2_000 if args.smoke else args.events
    with server() as server_url:
        run(database(server_url, "phi_bench_audit"), events)


def run(url: str, events: int) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "PHI_JWT_SECRET": "bench-" + "s" * 40,
        "PHI_DB_POOL_SIZE": "4",
        "PHI_DATA_DIR": str(BENCH_DIR),
    }
    port = free_port()
    api = serve("phi_core_api.main:create_app --factory", port, env)
    try:
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600)
        user = client.post(
            "/auth/signup", json={"email": "audit-bench@example.com", "password": "benchmark!"}
        ).json()
        headers = {"Authorization": f"Bearer {user['access_token']}"}
        org = client.post("/orgs", json={"name": "Audit bench"}, headers=headers).json()
        path = f"/orgs/{org['id']}/audit/export"
        small = max(1, events // 10)
        results = []
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(_FILL, {"org": org["id"], "user": user["id"], "first": 1, "last": small})
        rss_start = peak_rss_mb(api.pid)
        for count in (small, events):
            if count > small:
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute(
                        _FILL,
                        {"org": org["id"], "user": user["id"], "first": small + 1, "last": count},
                    )
            for fmt in ("csv", "jsonl"):
                got = download(client, path, fmt, headers)
                # +1: the org's own org.created event; CSV has a header line
                assert got["lines"] == count + 1 + (fmt == "csv"), got
                results.append((count, fmt, got, peak_rss_mb(api.pid)))
        baseline_mb, baseline_chars = whole_file_baseline(url, org["id"])
    finally:
        api.terminate()
        api.wait(timeout=30)

    print(f"audit export, {os.cpu_count()} cores; API peak RSS after start-up {rss_start:.0f} MB")
    print("events   format  seconds  events/s   MB     first byte   API peak RSS")
    for count, fmt, got, rss in results:
        print(
            f"{count:>7}  {fmt:<6} {got['seconds']:>7.2f}  {count / got['seconds']:>8.0f}  "
            f"{got['mb']:>6.1f}  {got['first_byte_ms']:>7.0f} ms   {rss:>6.0f} MB"
        )
    print(
        f"whole-file baseline ({events} events read into a list, one CSV string of "
        f"{baseline_chars / 1e6:.1f} M chars): {baseline_mb:.0f} MB of Python heap at its peak"
    )


if __name__ == "__main__":
    main()

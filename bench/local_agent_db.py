"""Throughput and memory of phi-agent's db tool: rows per second and peak RSS for 10k, 100k
and 1M-row queries, on SQLite and PostgreSQL, under the policy's limits.

Each measurement runs in its own process (so its peak RSS is its own): it builds the tool
from a policy, runs ``SELECT * FROM picks_big WHERE n <= :n`` through ``DbTool.run`` (parse
check, read-only transaction, server-side cursor, JSON encoding) and reports rows, seconds
and ``ru_maxrss``. Two limit settings:

* ``fits``: max_rows and max_result_bytes raised so the whole result comes back; memory then
  follows the size of the JSON result (which the cloud caps at 8 MB anyway);
* ``default``: the default policy limits (100,000 rows, 8 MB); a larger query is cut and
  marked truncated, and memory stays flat however many rows the query would return.

    .venv/bin/python bench/local_agent_db.py [--sizes 10000 100000 1000000] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from bench_db import database, server, smoke_argument  # noqa: E402

# A pick-like row: 9 columns, about 130 bytes of JSON.
PG_FILL = (
    "INSERT INTO picks_big SELECT g, 'PK-' || g, 'SO-' || (g / 3), g % 5, "
    "'P-' || lpad((g % 25)::text, 2, '0'), 'Z-' || chr(65 + g % 5), "
    "'SKU-' || lpad((g % 400)::text, 5, '0'), "
    "1 + g % 6, '2026-11-24T' || lpad((g % 24)::text, 2, '0') || ':00:00', "
    "'2026-11-24T' || lpad((g % 24)::text, 2, '0') || ':01:30' FROM generate_series(1, :rows) g"
)
SQLITE_FILL = (
    "WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < ?) "
    "INSERT INTO picks_big SELECT g, 'PK-' || g, 'SO-' || (g / 3), g % 5, "
    "'P-' || substr('0' || (g % 25), -2), 'Z-' || char(65 + g % 5), "
    "'SKU-' || substr('0000' || (g % 400), -5), 1 + g % 6, "
    "'2026-11-24T' || substr('0' || (g % 24), -2) || ':00:00', "
    "'2026-11-24T' || substr('0' || (g % 24), -2) || ':01:30' FROM s"
)
CREATE = (
    "CREATE TABLE picks_big (n INTEGER PRIMARY KEY, pick_id TEXT, order_id TEXT, line_no INTEGER,"
    " picker_id TEXT, zone_id TEXT, sku TEXT, quantity INTEGER, started_at TEXT,"
    " completed_at TEXT)"
)
LIMITS = {
    "fits": {"max_rows": 10_000_000, "max_result_bytes": 1_000_000_000},
    "default": {},
}


def child(dsn: str, rows: int, limits: str) -> None:
    """One measurement in this process; prints a JSON line."""
    from phi_agent.audit import AuditLog
    from phi_agent.policy import parse_policy
    from phi_agent.tools.db import DbTool

    os.environ["PHI_BENCH_DSN"] = dsn
    connection = {"dsn_env": "PHI_BENCH_DSN", "statement_timeout_seconds": 600, **LIMITS[limits]}
    with tempfile.TemporaryDirectory() as state:
        policy = parse_policy(
            {"tools": {"db": {"enabled": True, "connections": {"w": connection}}}}, Path(state)
        )
        tool = DbTool(policy, AuditLog(Path(state) / "audit.jsonl"))
        baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        sql = "SELECT * FROM picks_big WHERE n <= :n"
        started = time.perf_counter()
        result = tool.run({"queries": [{"name": "picks", "sql": sql, "params": {"n": rows}}]})
        seconds = time.perf_counter() - started
        # Read the counts from the tail: parsing 100 MB of JSON here would be the peak RSS.
        tail = re.search(r'"row_count":(\d+),"truncated":(true|false)\}\}\}$', result)
        assert tail is not None, result[-200:]
        answer = {"row_count": int(tail.group(1)), "truncated": tail.group(2) == "true"}
        tool.close()
    print(
        json.dumps(
            {
                "rows": answer["row_count"],
                "truncated": answer["truncated"],
                "seconds": seconds,
                "bytes": len(result),
                "baseline_kb": baseline,
                "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
            }
        )
    )


def measure(dsn: str, rows: int, limits: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", dsn, str(rows), limits],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def fill_sqlite(path: Path, rows: int) -> str:
    con = sqlite3.connect(path)
    with con:
        con.execute(CREATE)
        con.execute(SQLITE_FILL, (rows,))
    con.close()
    return f"sqlite:///{path}"


def fill_postgres(url: str, rows: int) -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(CREATE.replace("INTEGER PRIMARY KEY", "BIGINT PRIMARY KEY")))
        conn.execute(text(PG_FILL), {"rows": rows})
        conn.execute(text("ANALYZE picks_big"))
    engine.dispose()
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    smoke_argument(parser)
    args = parser.parse_args()
    # One small size in the smoke: each measurement is a process of its own (eight with two
    # sizes), and neither size reached the default limits' truncation anyway.
    sizes = [500] if args.smoke else args.sizes
    biggest = max(sizes)
    print(f"cores: {os.cpu_count()}; rows: {', '.join(f'{s:,}' for s in sizes)}")
    print(f"{'backend':10} {'limits':8} {'query rows':>10} {'returned':>9} {'trunc':>5} "
          f"{'seconds':>8} {'rows/s':>9} {'JSON MB':>8} {'RSS MB':>7} {'+MB':>6}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp, server() as pg_url:
        from phi_platform.settings import to_sqlalchemy_url

        backends = {
            "sqlite": fill_sqlite(Path(tmp) / "bench.sqlite", biggest),
            "postgres": fill_postgres(
                to_sqlalchemy_url(database(pg_url, "phi_bench_local_agent", fresh=True)), biggest
            ),
        }
        for backend, dsn in backends.items():
            for limits in LIMITS:
                for rows in sizes:
                    m = measure(dsn, rows, limits)
                    print(
                        f"{backend:10} {limits:8} {rows:>10,} {m['rows']:>9,} "
                        f"{'yes' if m['truncated'] else 'no':>5} {m['seconds']:>8.2f} "
                        f"{m['rows'] / m['seconds']:>9,.0f} {m['bytes'] / 1e6:>8.1f} "
                        f"{m['peak_kb'] / 1024:>7.0f} "
                        f"{(m['peak_kb'] - m['baseline_kb']) / 1024:>6.0f}",
                        flush=True,
                    )


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        main()

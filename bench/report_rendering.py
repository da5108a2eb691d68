"""What a delivered report costs to render: each chart as PNG (matplotlib), the email (MIME
with inline charts), the PDF with WeasyPrint and, for comparison, with fpdf2 when installed.

    python bench/report_rendering.py [--repeat 5] [--smoke]

The report is the daily warehouse report of the built-in sample (2026-11-24). Times are the
median of ``--repeat`` runs in one process after a first (import, font cache) run, which is
reported apart: a worker pays it once.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from datetime import date
from typing import Any

from bench_db import smoke_argument


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    start = time.perf_counter()
    result = fn()
    first = time.perf_counter() - start
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        runs.append(time.perf_counter() - start)
    return first, statistics.median(runs), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    smoke_argument(parser)
    args = parser.parse_args()
    repeat = 1 if args.smoke else args.repeat

    from phi_orchestrator.deliveries.messages import email_message
    from phi_orchestrator.results.chart_images import chart_png
    from phi_orchestrator.results.document import ResultDocument
    from phi_orchestrator.results.pdf import result_pdf
    from phi_orchestrator.results.spec import Chart
    from phi_orchestrator.workflows.daily_warehouse_report.analysis import analyse, read_times
    from phi_orchestrator.workflows.daily_warehouse_report.charts import build_charts
    from phi_orchestrator.workflows.daily_warehouse_report.headline import anomalies
    from phi_orchestrator.workflows.daily_warehouse_report.report import (
        report_markdown,
        summary_text,
    )
    from phi_orchestrator.workflows.daily_warehouse_report.sample import sample_tables
    from phi_orchestrator.workflows.daily_warehouse_report.trends import trends

    day = date(2026, 11, 24)
    tables = sample_tables(day)
    metrics = analyse(tables, day)
    timed_tables = read_times({t: tables[t] for t in ("orders", "shipments")})
    found = trends(
        timed_tables["orders"],
        timed_tables["shipments"],
        day,
    )
    charts = [Chart.model_validate(c) for c in build_charts(metrics, found)]
    if args.smoke:
        charts = charts[:2]
    doc = ResultDocument(
        task_id="t",
        agent_id="a",
        task_type="DAILY_WAREHOUSE_REPORT",
        title=f"Daily warehouse report — {day}",
        summary=summary_text(metrics),
        anomalies=anomalies(metrics),
        charts=charts,
        report_md=report_markdown(metrics, "Narrative.", "builtin", "Bot", []),
        link="http://localhost:3000/agents/a?tab=tasks&task=t",
    )
    print(f"cores: {os.cpu_count()}; charts: {len(charts)}; repeat: {repeat}")
    first, median, png = timed(lambda: chart_png(charts[0]), repeat)
    print(
        f"chart PNG (640x300): first {first:.2f} s (import + fonts), "
        f"then {median * 1000:.0f} ms, {len(png)} bytes"
    )
    first, median, msg = timed(
        lambda: email_message(doc, sender="a@b.c", recipient="d@e.f", delivery_id="x"), repeat
    )
    print(
        f"email with {len(charts)} inline charts: {median * 1000:.0f} ms, {len(bytes(msg))} bytes"
    )
    first, median, pdf = timed(lambda: result_pdf(doc), repeat)
    print(f"PDF (WeasyPrint): first {first:.2f} s, then {median * 1000:.0f} ms, {len(pdf)} bytes")


if __name__ == "__main__":
    main()

"""Which query results an agent task's answer charts, and how (no database needed)."""

from __future__ import annotations

from phi_orchestrator.workflows.agent_task.charts import answer_charts, series_chart


def test_dates_make_a_line_with_gaps_for_empty_values() -> None:
    rows = [["2026-11-23", 4, 1.5], ["2026-11-24", None, 2.0], ["2026-11-25", 6, None]]
    chart = series_chart(2, "SELECT day, late, mean FROM x", ["day", "late", "mean"], rows)
    assert chart is not None and chart["kind"] == "line" and chart["id"] == "query_2"
    assert chart["labels"] == ["2026-11-23", "2026-11-24", "2026-11-25"]
    assert [s["values"] for s in chart["series"]] == [[4.0, None, 6.0], [1.5, 2.0, None]]
    assert "Gaps" in chart["note"]


def test_results_that_are_not_a_series_get_no_chart() -> None:
    assert series_chart(1, "q", ["zone", "late"], [["Z-A", 1]]) is None  # one row
    assert series_chart(1, "q", ["zone", "name"], [["Z-A", "Ambient"], ["Z-B", "Bulk"]]) is None
    assert series_chart(1, "q", ["late"], [[1], [2]]) is None  # nothing to label
    wide = [[f"Z-{i}", i] for i in range(61)]
    assert series_chart(1, "q", ["zone", "late"], wide) is None


def test_the_answer_keeps_the_charts_of_its_queries_only() -> None:
    chart = series_chart(1, "q", ["zone", "late"], [["Z-A", 1], ["Z-B", 2]], truncated=True)
    assert chart is not None and "cut the result off" in chart["note"]
    evidence = [
        {"kind": "passage", "chart": {"x": 1}},
        {"kind": "sql", "sql": "q", "row_count": 2, "chart": chart},
        {"kind": "sql", "sql": "r", "row_count": 0},
    ]
    assert answer_charts(evidence) == [chart]

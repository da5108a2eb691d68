"""The refusal summary sent on heartbeats: counted, bounded, reasons without data, kept until
the cloud accepts it."""

from __future__ import annotations

from phi_agent.refusals import MAX_ENTRIES, RefusalSummary, report_reason


def test_database_messages_are_cut_before_what_the_database_quoted() -> None:
    message = "query 'totals' refused by the database: invalid input syntax: \"4111-1111\""
    assert report_reason(message) == "query 'totals' refused by the database"
    assert len(report_reason("x" * 1000)) == 200


def test_counts_by_tool_and_reason_and_stays_bounded() -> None:
    summary = RefusalSummary()
    for _ in range(3):
        summary.add("db", "the statement writes")
    for i in range(100):
        summary.add("file", f"/data/{i} is outside the allowed folders")
    pending = summary.pending()
    assert len(pending) == MAX_ENTRIES
    assert pending[0]["count"] == 3
    other = [p for p in pending if p["tool"] == "*"]
    assert other and other[0]["count"] == 100 - (MAX_ENTRIES - 2)
    assert sum(p["count"] for p in pending) == 103


def test_acknowledged_counts_are_forgotten_newer_ones_kept() -> None:
    summary = RefusalSummary()
    summary.add("db", "the statement writes")
    sent = summary.pending()
    summary.add("db", "the statement writes")  # while the heartbeat was on its way
    summary.acknowledge(sent)
    (left,) = summary.pending()
    assert left["count"] == 1
    summary.acknowledge(summary.pending())
    assert summary.pending() == []

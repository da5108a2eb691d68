"""Tasks through HTTP with a real worker process: the report on sample data, ASK, bad input,
listing, cancel, and the live event stream."""

from __future__ import annotations

import json
import threading
import time
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest
from orch_factories import make_tenant, plain_url, run_task, sql, wait_task

REPORT_STEPS = [
    "load_agent_config",
    "fetch_data",
    "fetch_docs",
    "analysis",
    "report_formatter",
    "remember_day",
    "save_result",
]


def test_daily_report_on_sample_data(api: httpx.Client, database_url: str, worker: Any) -> None:
    tenant = make_tenant(database_url)
    task_id = run_task(
        api, tenant, "DAILY_WAREHOUSE_REPORT", {"data_source": "sample", "day": "2026-11-24"}
    )
    task = wait_task(api, tenant, task_id, {"SUCCESS", "FAILED"}, timeout=120)
    assert task["status"] == "SUCCESS", task["error"]
    out = task["output"]
    assert set(out) >= {"full_report_md", "summary_text", "metrics"}
    assert "Dock 4" in out["full_report_md"] and "Cold chain" in out["full_report_md"]
    assert "without an LLM" in out["full_report_md"]  # builtin route, labelled
    finished = [e for e in task["events"] if e["event_type"] == "step_finished"]
    assert [e["payload"]["step"] for e in finished] == REPORT_STEPS
    assert all(e["payload"]["duration_ms"] >= 0 and e["payload"]["summary"] for e in finished)
    kinds = [e["event_type"] for e in task["events"]]
    assert kinds[0] == "task_created" and kinds[-1] == "task_succeeded"
    assert task["started_at"] and task["finished_at"]


def test_ask_answers_without_documents(api: httpx.Client, database_url: str, worker: Any) -> None:
    tenant = make_tenant(database_url)
    task_id = run_task(api, tenant, "ASK", {"question": "When are pallets counted?"})
    task = wait_task(api, tenant, task_id, {"SUCCESS", "FAILED"})
    assert task["status"] == "SUCCESS", task["error"]
    assert task["output"]["citations"] == []
    assert "none of its documents matches" in task["output"]["answer"]


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"type": "NOPE", "input": {}}, 422, "unknown workflow type 'NOPE'"),
        ({"type": "ASK", "input": {}}, 422, "input.question"),
        ({"type": "DAILY_WAREHOUSE_REPORT", "input": {"data_source": "x"}}, 422, "data_source"),
        ({"type": "DAILY_WAREHOUSE_REPORT", "input": {"day": "someday"}}, 422, "input.day"),
        # The report reads the day after and the week before: these overflowed the calendar
        # and failed the task with an internal OverflowError.
        ({"type": "DAILY_WAREHOUSE_REPORT", "input": {"day": "9999-12-31"}}, 422, "input.day"),
        ({"type": "DAILY_WAREHOUSE_REPORT", "input": {"day": "0001-01-01"}}, 422, "input.day"),
        ({"type": "DAILY_WAREHOUSE_REPORT", "input": {"day": "1899-12-31"}}, 422, "1900-01-01"),
    ],
)
def test_bad_requests_say_what_is_wrong(
    api: httpx.Client, database_url: str, body: dict, status: int, words: str
) -> None:
    tenant = make_tenant(database_url)
    r = api.post(f"/agents/{tenant.agent_id}/run-task", json=body, headers=tenant.owner.headers)
    assert r.status_code == status and words in r.json()["detail"], r.text


def test_report_days_run_from_1900_to_tomorrow_in_the_orgs_time_zone(
    api: httpx.Client, database_url: str
) -> None:
    # Kiritimati is 14 hours ahead of UTC: its tomorrow can be two UTC days away.
    tenant = make_tenant(database_url, time_zone="Pacific/Kiritimati")
    today = datetime.now(ZoneInfo("Pacific/Kiritimati")).date()
    path = f"/agents/{tenant.agent_id}/run-task"
    for day, status in (
        (today + timedelta(days=2), 422),
        (today + timedelta(days=1), 202),
        (date(1900, 1, 1), 202),
    ):
        body = {"type": "DAILY_WAREHOUSE_REPORT", "input": {"day": day.isoformat()}}
        r = api.post(path, json=body, headers=tenant.owner.headers)
        assert r.status_code == status, (day, r.text)
        if status == 422:
            assert "input.day" in r.text and (today + timedelta(days=1)).isoformat() in r.text
        else:
            # Not run here (no worker): cancelled so that no later worker picks it up.
            cancel = api.post(f"/tasks/{r.json()['task_id']}/cancel", headers=tenant.owner.headers)
            assert cancel.status_code == 200


def test_disabled_agent_is_refused(api: httpx.Client, database_url: str) -> None:
    tenant = make_tenant(database_url, status="DISABLED")
    r = api.post(
        f"/agents/{tenant.agent_id}/run-task",
        json={"type": "ASK", "input": {"question": "q"}},
        headers=tenant.owner.headers,
    )
    assert r.status_code == 409 and "DISABLED" in r.json()["detail"]


def test_list_is_newest_first_with_filters_and_pages(api: httpx.Client, database_url: str) -> None:
    tenant = make_tenant(database_url)
    ids = [run_task(api, tenant, "ASK", {"question": f"q{i}"}) for i in range(3)]
    sql(database_url, "UPDATE tasks SET status = 'CANCELLED' WHERE id = %s", ids[0])
    path = f"/agents/{tenant.agent_id}/tasks"
    page = api.get(path, params={"limit": 2}, headers=tenant.member.headers).json()
    assert [t["id"] for t in page["items"]] == ids[::-1][:2] and page["total"] == 3
    page2 = api.get(path, params={"limit": 2, "offset": 2}, headers=tenant.member.headers).json()
    assert [t["id"] for t in page2["items"]] == [ids[0]]
    cancelled = api.get(path, params={"status": "CANCELLED"}, headers=tenant.owner.headers).json()
    assert [t["id"] for t in cancelled["items"]] == [ids[0]]
    none = api.get(path, params={"type": "DAILY_WAREHOUSE_REPORT"}, headers=tenant.owner.headers)
    assert none.json()["total"] == 0
    assert api.get(path, params={"status": "NOPE"}, headers=tenant.owner.headers).status_code == 422


def test_cancel_pending_task_and_not_twice(api: httpx.Client, database_url: str) -> None:
    tenant = make_tenant(database_url)
    task_id = run_task(api, tenant, "ASK", {"question": "q"})
    r = api.post(f"/tasks/{task_id}/cancel", headers=tenant.owner.headers)
    assert r.status_code == 200 and r.json()["status"] == "CANCELLED"
    again = api.post(f"/tasks/{task_id}/cancel", headers=tenant.owner.headers)
    assert again.status_code == 409 and "CANCELLED" in again.json()["detail"]


def _read_stream(api: httpx.Client, path: str, headers: dict[str, str], out: list) -> None:
    with api.stream("GET", path, headers=headers, timeout=120) as r:
        assert r.status_code == 200
        event: dict[str, Any] = {}
        for line in r.iter_lines():
            if line.startswith("id: "):
                event["id"] = int(line[4:])
            elif line.startswith("event: "):
                event["event"] = line[7:]
            elif line.startswith("data: "):
                event["data"] = json.loads(line[6:])
            elif line == "" and event:
                out.append(event)
                event = {}
                if out[-1]["event"] == "end":
                    return


def test_event_stream_follows_a_run_live_and_resumes(
    api: httpx.Client, database_url: str, worker: Any
) -> None:
    tenant = make_tenant(database_url)
    task_id = run_task(api, tenant, "DAILY_WAREHOUSE_REPORT", {"day": "2026-11-24"})
    path = f"/tasks/{task_id}/events/stream"
    live: list[dict[str, Any]] = []
    reader = threading.Thread(target=_read_stream, args=(api, path, tenant.owner.headers, live))
    reader.start()
    reader.join(timeout=120)
    assert live and live[-1] == {"event": "end", "data": {"status": "SUCCESS"}}
    ids = [e["id"] for e in live[:-1]]
    assert ids == sorted(ids) and len(ids) == len(set(ids))
    assert "task_succeeded" in [e["event"] for e in live]
    # Resume after the 3rd event: exactly the rest, no repeats.
    rest: list[dict[str, Any]] = []
    _read_stream(api, path, {**tenant.owner.headers, "Last-Event-ID": str(ids[2])}, rest)
    assert [e["id"] for e in rest[:-1]] == ids[3:]
    bad = api.get(path, headers={**tenant.owner.headers, "Last-Event-ID": "x"})
    assert bad.status_code == 422


def test_watch_page_reads_the_stream_with_the_token(api: httpx.Client) -> None:
    r = api.get("/watch")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "/events/stream" in r.text and "Authorization" in r.text


def test_event_stream_never_ends_before_the_last_event(
    api: httpx.Client, database_url: str
) -> None:
    """The task's last event and its final status commit together while the stream is
    between reading the events and reading the status: the stream still sends the event
    before ``end`` (it reads both in one snapshot)."""
    tenant = make_tenant(database_url)
    (task_id,) = sql(
        database_url,
        "INSERT INTO tasks (agent_id, org_id, type, input, status, started_at) "
        "VALUES (%s, %s, 'ASK', '{\"question\": \"q\"}', 'RUNNING', now()) RETURNING id::text",
        tenant.agent_id,
        tenant.org_id,
    )[0]
    add = "INSERT INTO task_events (task_id, event_type, payload) VALUES (%s, %s, '{}')"
    sql(database_url, add, task_id, "task_started")
    live: list[dict[str, Any]] = []
    path = f"/tasks/{task_id}/events/stream"
    reader = threading.Thread(target=_read_stream, args=(api, path, tenant.owner.headers, live))
    reader.start()
    waiting = "SELECT count(*) FROM pg_locks WHERE relation = 'tasks'::regclass AND NOT granted"
    with psycopg.connect(plain_url(database_url)) as conn:
        deadline = time.monotonic() + 30
        while not live:
            assert time.monotonic() < deadline, "the stream sent nothing"
            time.sleep(0.02)
        conn.execute("LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE")
        # Wake the stream: its next read of the task waits behind this transaction.
        sql(database_url, "SELECT pg_notify('phi_task_events', %s)", f"{task_id}:0")
        while sql(database_url, waiting)[0][0] == 0:
            assert time.monotonic() < deadline, "the stream did not read again"
            time.sleep(0.02)
        conn.execute(add, (task_id, "task_succeeded"))
        conn.execute(
            "UPDATE tasks SET status = 'SUCCESS', finished_at = now() WHERE id = %s", (task_id,)
        )
        conn.commit()
    reader.join(timeout=30)
    assert [e["event"] for e in live] == ["task_started", "task_succeeded", "end"]

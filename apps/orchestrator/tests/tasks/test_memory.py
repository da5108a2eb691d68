"""Workflows remember and recall (issue 20): a report keeps its day's figures as the agent's
memory, ASK answers from it with the citation, and an organization's memories reach every
agent of it and no other organization."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from orch_factories import Tenant, make_tenant, run_task, sql, wait_task

DAY, OTHER_DAY = "2026-11-24", "2026-11-23"
QUESTION = f"what was the late rate on {DAY}?"


def _report(api: httpx.Client, tenant: Tenant, day: str) -> dict[str, Any]:
    task_id = run_task(api, tenant, "DAILY_WAREHOUSE_REPORT", {"day": day})
    task = wait_task(api, tenant, task_id, {"SUCCESS", "FAILED"}, timeout=120)
    assert task["status"] == "SUCCESS", task["error"]
    return task


def _ask(api: httpx.Client, tenant: Tenant, question: str) -> dict[str, Any]:
    task_id = run_task(api, tenant, "ASK", {"question": question})
    task = wait_task(api, tenant, task_id, {"SUCCESS", "FAILED"}, timeout=120)
    assert task["status"] == "SUCCESS", task["error"]
    return task["output"]  # type: ignore[no-any-return]


def _memories(database_url: str, agent_id: str) -> list[tuple[Any, ...]]:
    return sql(
        database_url,
        "SELECT report_day::text, source, source_task_id::text, text, embedding IS NOT NULL "
        "FROM memories WHERE agent_id = %s ORDER BY report_day",
        agent_id,
    )


def _org_memory(database_url: str, tenant: Tenant, text: str, **columns: str) -> str:
    from phi_llm.embeddings import get_embedding_provider

    vector = get_embedding_provider().embed_passages([text])[0]
    extra = "".join(f", {k}" for k in columns)
    values = "".join(", %s" for _ in columns)
    (memory_id,) = sql(
        database_url,
        f"INSERT INTO memories (org_id, text, embedding, source, source_user_id{extra}) "
        f"VALUES (%s, %s, %s::vector, 'user', %s{values}) RETURNING id",
        tenant.org_id,
        text,
        "[" + ",".join(f"{x:.6f}" for x in vector) + "]",
        tenant.owner.user_id,
        *columns.values(),
    )[0]
    return str(memory_id)


def test_a_report_is_remembered_and_answers_the_next_days_question(
    api: httpx.Client, database_url: str, worker: Any
) -> None:
    tenant = make_tenant(database_url)
    first = _report(api, tenant, DAY)
    other = _report(api, tenant, OTHER_DAY)
    # Run again for the same day: its memory is replaced, not doubled (and the same text
    # again is no change for the audit log).
    _report(api, tenant, OTHER_DAY)
    sql(
        database_url,
        "UPDATE memories SET text = 'an older summary' WHERE agent_id = %s AND report_day = %s",
        tenant.agent_id,
        DAY,
    )
    again = _report(api, tenant, DAY)
    # One audit event per memory written, by the report's task, in its transaction.
    (email,) = sql(database_url, "SELECT email FROM users WHERE id = %s", tenant.owner.user_id)[0]
    audited = sql(
        database_url,
        "SELECT action, actor_type, actor_id::text, actor_label, target_id, details "
        "FROM audit_events WHERE org_id = %s AND action LIKE 'memory.%%' ORDER BY id",
        tenant.org_id,
    )
    assert [(a[0], a[1], a[2], a[5]["report_day"]) for a in audited] == [
        ("memory.added", "task", first["id"], DAY),
        ("memory.added", "task", other["id"], OTHER_DAY),
        ("memory.changed", "task", again["id"], DAY),
    ]
    assert audited[0][3] == (
        f"daily warehouse report {first['id'][:8]} of agent Warehouse bot, started by {email}"
    )
    assert audited[0][4] == audited[2][4] == first["output"]["memory_id"]
    assert audited[0][5] == {
        "scope": "agent",
        "agent_id": tenant.agent_id,
        "agent_name": "Warehouse bot",
        "source": "task",
        "task_id": first["id"],
        "report_day": DAY,
    }
    assert audited[2][5]["text_changed"] is True
    rows = _memories(database_url, tenant.agent_id)
    assert [r[0] for r in rows] == [OTHER_DAY, DAY]
    day_row = rows[1]
    assert day_row[1] == "task" and day_row[2] == again["id"] and day_row[4] is True
    late = again["output"]["metrics"]["late_orders"]
    assert late == first["output"]["metrics"]["late_orders"]
    assert f"late rate {late['late_pct']}%" in day_row[3]
    assert again["output"]["memory_id"] == first["output"]["memory_id"]

    # "The next day": ASK finds the figure in memory and cites the day's report.
    output = _ask(api, tenant, QUESTION)
    cited = output["citations"][0]
    assert cited["kind"] == "memory" and cited["report_day"] == DAY
    assert cited["source_task_id"] == again["id"]
    assert f"late rate {late['late_pct']}%" in cited["excerpt"]
    assert all(c.get("report_day") != OTHER_DAY for c in output["citations"])
    answer = output["answer"]
    # Builtin: the memory quoted word for word with its source and day.
    assert output["answer_source"] == "builtin"
    assert f"[1] remembered from the report of {DAY}: “{day_row[3]}”" in answer


def test_org_memories_reach_every_agent_of_the_org_and_no_other(
    api: httpx.Client, database_url: str, worker: Any
) -> None:
    tenant = make_tenant(database_url)
    (second,) = sql(
        database_url,
        "INSERT INTO agents (org_id, name) VALUES (%s, 'Second bot') RETURNING id",
        tenant.org_id,
    )[0]
    fact = f"Dock 4 is closed for repairs until Friday (ticket {uuid.uuid4().hex[:6]})."
    memory_id = _org_memory(database_url, tenant, fact)
    for agent_id in (tenant.agent_id, str(second)):
        agent_tenant = Tenant(tenant.org_id, agent_id, tenant.owner, tenant.member)
        output = _ask(api, agent_tenant, "Is dock 4 available?")
        assert output["citations"][0]["memory_id"] == memory_id
        assert "the organization's memory, noted by a user on" in output["answer"]
        assert fact in output["answer"]
    # Another organization with memories of its own never recalls this one's.
    other = make_tenant(database_url)
    _org_memory(database_url, other, "Forklift batteries are charged in bay 3.")
    cited = _ask(api, other, "Is dock 4 available?")["citations"]
    assert [c["excerpt"] for c in cited] == ["Forklift batteries are charged in bay 3."]


def test_expired_and_deleted_memories_are_not_recalled(
    api: httpx.Client, database_url: str, worker: Any
) -> None:
    tenant = make_tenant(database_url)
    _org_memory(
        database_url, tenant, "Gate 7 is reserved for the audit.", valid_until="2000-01-01T00:00Z"
    )
    deleted = _org_memory(database_url, tenant, "Gate 8 is reserved for the audit.")
    sql(database_url, "DELETE FROM memories WHERE id = %s", deleted)
    output = _ask(api, tenant, "Which gate is reserved for the audit?")
    assert output["citations"] == []
    assert "Gate" not in output["answer"]

"""The orchestrator's changes write exactly one audit event each, in their own transaction:
local-agent keys, tasks, and the refusals a local agent reports on its heartbeat."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
from orch_factories import ScriptedLocalAgent, create_key, make_tenant, plain_url, run_task, sql

from phi_service.testing import LiveServer


def _events(database_url: str, org_id: str, after: int = 0) -> list[dict[str, Any]]:
    with psycopg.connect(plain_url(database_url)) as conn:
        cur = conn.execute(
            "SELECT id, action, actor_type, actor_id::text, actor_label, target_type, target_id,"
            " details, request_id FROM audit_events WHERE org_id = %s AND id > %s ORDER BY id",
            (org_id, after),
        )
        names = [d.name for d in cur.description or []]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def test_key_and_task_actions(api: httpx.Client, database_url: str) -> None:
    tenant = make_tenant(database_url)
    r = api.post(
        f"/agents/{tenant.agent_id}/local-agent-keys",
        json={"name": "warehouse-pc"},
        headers=tenant.owner.headers,
    )
    assert r.status_code == 201, r.text
    key = r.json()
    (created,) = _events(database_url, tenant.org_id)
    assert created["action"] == "local_agent_key.created"
    assert (created["actor_type"], created["actor_id"]) == ("user", tenant.owner.user_id)
    assert (created["target_type"], created["target_id"]) == ("local_agent_key", key["id"])
    assert created["details"] == {
        "name": "warehouse-pc",
        "prefix": key["prefix"],
        "agent_id": tenant.agent_id,
        "agent_name": "Warehouse bot",
    }
    assert created["request_id"]

    path = f"/agents/{tenant.agent_id}/local-agent-keys/{key['id']}"
    assert api.delete(path, headers=tenant.owner.headers).status_code == 204
    # Revoking it again changes nothing and records nothing.
    assert api.delete(path, headers=tenant.owner.headers).status_code == 204
    revoked = _events(database_url, tenant.org_id, created["id"])
    assert [e["action"] for e in revoked] == ["local_agent_key.revoked"]
    assert revoked[0]["target_id"] == key["id"]

    task_id = run_task(api, tenant, "ASK", {"question": "How many pallets?"})
    started = _events(database_url, tenant.org_id, revoked[0]["id"])
    assert [(e["action"], e["actor_id"], e["target_id"]) for e in started] == [
        ("task.started", tenant.owner.user_id, task_id)
    ]
    assert started[0]["details"]["trigger"] == "manual"
    r = api.post(f"/tasks/{task_id}/cancel", headers=tenant.owner.headers)
    assert r.status_code == 200, r.text
    cancelled = _events(database_url, tenant.org_id, started[0]["id"])
    assert [(e["action"], e["target_id"]) for e in cancelled] == [("task.cancelled", task_id)]
    # Cancelling a finished task is refused (409) and records nothing.
    assert api.post(f"/tasks/{task_id}/cancel", headers=tenant.owner.headers).status_code == 409
    assert _events(database_url, tenant.org_id, cancelled[0]["id"]) == []


def test_a_key_that_fails_to_save_leaves_no_event(api: httpx.Client, database_url: str) -> None:
    tenant = make_tenant(database_url)
    fn = f"refuse_{uuid.uuid4().hex[:8]}"
    sql(
        database_url,
        f"CREATE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.name = 'explode' THEN RAISE EXCEPTION 'refused by test'; END IF; "
        "RETURN NEW; END $$",
    )
    sql(
        database_url,
        f"CREATE CONSTRAINT TRIGGER {fn} AFTER INSERT ON local_agent_keys "
        f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {fn}()",
    )
    try:
        r = api.post(
            f"/agents/{tenant.agent_id}/local-agent-keys",
            json={"name": "explode"},
            headers=tenant.owner.headers,
        )
        assert (r.status_code, r.json()) == (500, {"detail": "internal error"})
    finally:
        sql(database_url, f"DROP TRIGGER {fn} ON local_agent_keys")
        sql(database_url, f"DROP FUNCTION {fn}()")
    assert _events(database_url, tenant.org_id) == []


def _refusal(tool: str, reason: str, count: int) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    return {"tool": tool, "reason": reason, "count": count, "first_at": now, "last_at": now}


def test_refusals_reported_on_heartbeat_become_events(
    api: httpx.Client, orchestrator: LiveServer, database_url: str
) -> None:
    tenant = make_tenant(database_url)
    agent = ScriptedLocalAgent(orchestrator.url, create_key(api, tenant), name="Dock PC")
    assert agent.heartbeat().status_code == 200
    after = _events(database_url, tenant.org_id)[-1]["id"]  # the key's creation

    body = {
        "local_agent_id": agent.local_agent_id,
        "name": "Dock PC",
        "tools": ["db"],
        "refusals": [
            _refusal("db", "query 'q1' refused: the statement writes (DELETE)", 3),
            _refusal("file", "/etc/shadow is outside the allowed folders", 1),
        ],
    }
    assert agent.http.post("/local-agents/heartbeat", json=body).status_code == 200
    events = _events(database_url, tenant.org_id, after)
    assert [(e["action"], e["details"]["tool"], e["details"]["count"]) for e in events] == [
        ("local_agent.refused", "db", 3),
        ("local_agent.refused", "file", 1),
    ]
    first = events[0]
    assert (first["actor_type"], first["actor_id"]) == ("local_agent", agent.local_agent_id)
    assert first["actor_label"] == "Dock PC"
    assert first["details"]["agent_name"] == "Warehouse bot"

    # More than the bounded summary, or a malformed entry: 422, nothing recorded.
    body["refusals"] = [_refusal("db", f"reason {i}", 1) for i in range(21)]
    r = agent.http.post("/local-agents/heartbeat", json=body)
    assert r.status_code == 422 and "refusals" in r.text
    body["refusals"] = [_refusal("db", "x", 0)]
    assert agent.http.post("/local-agents/heartbeat", json=body).status_code == 422
    assert _events(database_url, tenant.org_id, events[-1]["id"]) == []


def test_delivery_destinations_added_and_removed(api: httpx.Client, database_url: str) -> None:
    tenant = make_tenant(database_url)
    path = f"/agents/{tenant.agent_id}/deliver-to"
    body = {"workflow_type": "DAILY_WAREHOUSE_REPORT", "email": "ops@example.com"}
    r = api.post(path, json=body, headers=tenant.owner.headers)
    assert r.status_code == 201, r.text
    destination = r.json()
    (added,) = _events(database_url, tenant.org_id)
    assert added["action"] == "delivery_destination.created"
    assert (added["actor_type"], added["actor_id"]) == ("user", tenant.owner.user_id)
    assert (added["target_type"], added["target_id"]) == (
        "delivery_destination",
        destination["id"],
    )
    assert added["details"] == {
        "workflow_type": "DAILY_WAREHOUSE_REPORT",
        "kind": "email",
        "format": "email",
        "agent_id": tenant.agent_id,
        "agent_name": "Warehouse bot",
    }
    # Refused changes record nothing: the same address again, an unknown destination, a
    # member without the right.
    assert api.post(path, json=body, headers=tenant.owner.headers).status_code == 409
    assert api.post(path, json=body, headers=tenant.member.headers).status_code == 403
    unknown = f"{path}/{uuid.uuid4()}"
    assert api.delete(unknown, headers=tenant.owner.headers).status_code == 404
    assert _events(database_url, tenant.org_id, added["id"]) == []

    gone = f"{path}/{destination['id']}"
    assert api.delete(gone, headers=tenant.owner.headers).status_code == 204
    (removed,) = _events(database_url, tenant.org_id, added["id"])
    assert (removed["action"], removed["target_id"]) == (
        "delivery_destination.deleted",
        destination["id"],
    )
    assert removed["details"]["kind"] == "email"
    assert api.delete(gone, headers=tenant.owner.headers).status_code == 404
    assert _events(database_url, tenant.org_id, removed["id"]) == []


def test_approvals_nobody_decided_expire_by_the_platform(database_url: str) -> None:
    """The housekeeping job decides an approval waited on too long as expired, with one
    audit event by the platform; an approval still within its time stays undecided."""
    import asyncio

    from phi_orchestrator.housekeeping import expire_approvals
    from phi_orchestrator.runtime import open_pool
    from phi_orchestrator.settings import OrchestratorSettings

    tenant = make_tenant(database_url)
    ids = []
    for age in ("2 hours", "1 minute"):
        ((task_id,),) = sql(
            database_url,
            "INSERT INTO tasks (agent_id, org_id, type, status, input) VALUES (%s, %s, "
            "'AGENT_TASK', 'AWAITING_APPROVAL', '{}') RETURNING id::text",
            tenant.agent_id,
            tenant.org_id,
        )
        sql(
            database_url,
            "INSERT INTO task_events (task_id, event_type, payload, timestamp) VALUES "
            '(%s, \'approval_requested\', \'{"key": "turn-1", "tool": "db_query"}\', '
            f"now() - interval '{age}')",
            task_id,
        )
        ids.append(task_id)
    settings = OrchestratorSettings(database_url=database_url, approval_timeout_seconds=3600)

    async def expire() -> list[uuid.UUID]:
        pool = open_pool(plain_url(database_url), max_size=2)
        await pool.open()
        try:
            return await expire_approvals(pool, settings)
        finally:
            await pool.close()

    assert [str(t) for t in asyncio.run(expire())] == [ids[0]]
    (expired,) = _events(database_url, tenant.org_id)
    assert expired["action"] == "approval.expired"
    assert (expired["actor_type"], expired["actor_id"]) == ("system", None)
    assert (expired["target_type"], expired["target_id"]) == ("approval", ids[0])
    assert expired["details"] == {
        "tool": "db_query",
        "task_id": ids[0],
        "agent_id": tenant.agent_id,
        "agent_name": "Warehouse bot",
        "reason": "no decision within 3600 seconds",
    }
    # Run again: that approval is decided already, the other still in time.
    assert asyncio.run(expire()) == []
    assert _events(database_url, tenant.org_id, expired["id"]) == []

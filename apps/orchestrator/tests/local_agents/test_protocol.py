"""The local-agent protocol (docs/local-agent-protocol.md) with a scripted client over real
HTTP and a real worker process."""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

import httpx
import pytest
import zstandard
from orch_factories import (
    ScriptedLocalAgent,
    Tenant,
    contract_result,
    create_key,
    make_tenant,
    run_task,
    sql,
    wait_task,
)

from phi_orchestrator.housekeeping import purge_idempotency_keys
from phi_orchestrator.runtime import open_pool

DAY = "2026-11-24"


@pytest.fixture
def tenant(database_url: str) -> Tenant:
    return make_tenant(database_url)


@pytest.fixture
def agent(api: httpx.Client, orchestrator: Any, tenant: Tenant) -> Any:
    client = ScriptedLocalAgent(orchestrator.url, create_key(api, tenant))
    assert client.heartbeat().status_code == 200
    yield client
    client.close()


def _report(api: httpx.Client, tenant: Tenant, **extra: Any) -> str:
    return run_task(
        api,
        tenant,
        "DAILY_WAREHOUSE_REPORT",
        {"data_source": "local_agent", "day": DAY, **extra},
    )


def test_keys_are_shown_once_stored_hashed_and_revocable(
    api: httpx.Client, orchestrator: Any, tenant: Tenant, database_url: str
) -> None:
    path = f"/agents/{tenant.agent_id}/local-agent-keys"
    r = api.post(path, json={"name": "pc"}, headers=tenant.owner.headers)
    assert r.status_code == 201
    created = r.json()
    assert re.fullmatch(r"phia_[0-9a-f]{32}_[A-Za-z0-9_-]{43}", created["key"])
    assert created["key"].startswith(created["prefix"])
    secret = created["key"].split("_", 2)[2]  # the secret may itself hold "_"
    stored = sql(database_url, "SELECT secret_sha256::text FROM local_agent_keys")
    assert all(secret not in row[0] for row in stored)
    listed = api.get(path, headers=tenant.owner.headers).json()["items"]
    assert [k["id"] for k in listed] == [created["id"]] and "key" not in listed[0]
    # MEMBERs cannot see or make keys.
    assert api.get(path, headers=tenant.member.headers).status_code == 403
    assert api.post(path, json={"name": "x"}, headers=tenant.member.headers).status_code == 403
    client = ScriptedLocalAgent(orchestrator.url, created["key"])
    assert client.heartbeat().status_code == 200
    assert api.delete(f"{path}/{created['id']}", headers=tenant.owner.headers).status_code == 204
    r = client.heartbeat()
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    assert api.get(path, headers=tenant.owner.headers).json()["items"][0]["revoked_at"]
    missing = api.delete(f"{path}/{tenant.org_id}", headers=tenant.owner.headers)
    assert missing.status_code == 404


@pytest.mark.parametrize(
    "key",
    [None, "nonsense", "phia_" + "0" * 32 + "_" + "a" * 43, "Bearer"],
)
def test_calls_without_a_valid_key_get_401(orchestrator: Any, key: str | None) -> None:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    with httpx.Client(base_url=orchestrator.url, headers=headers) as c:
        assert c.post("/local-agents/heartbeat", json={"name": "x"}).status_code == 401
        assert (
            c.get(f"/local-agents/{'0' * 8}-0000-0000-0000-{'0' * 12}/pending-tasks").status_code
            == 401
        )


def test_heartbeat_registers_then_updates_and_goes_offline(
    api: httpx.Client, agent: ScriptedLocalAgent, tenant: Tenant
) -> None:
    first = agent.local_agent_id
    r = agent.heartbeat()
    body = r.json()
    assert body["local_agent_id"] == first and body["agent_id"] == tenant.agent_id
    assert body["lease_seconds"] == 2 and body["heartbeat_interval_seconds"] == 1
    path = f"/agents/{tenant.agent_id}/local-agents"
    items = api.get(path, headers=tenant.member.headers).json()["items"]
    assert [(i["id"], i["status"], sorted(i["tools"])) for i in items] == [
        (first, "ACTIVE", ["db", "file"])
    ]
    time.sleep(3.3)  # 3 missed heartbeats of 1 s
    assert api.get(path, headers=tenant.member.headers).json()["items"][0]["status"] == "OFFLINE"
    agent.heartbeat()
    assert api.get(path, headers=tenant.member.headers).json()["items"][0]["status"] == "ACTIVE"


def _check_report(ok: bool, problems: list[str]) -> dict[str, Any]:
    return {
        "contract": "warehouse",
        "connection": "wms",
        "checked_at": "2026-12-05T12:30:00Z",
        "ok": ok,
        "tables": [
            {"table": "zones", "source": "mapping", "rows": 5, "ok": True, "problems": []},
            {"table": "orders", "source": "mapping", "rows": 200, "ok": ok, "problems": problems},
        ],
    }


def test_the_last_contract_check_comes_with_the_heartbeat_and_is_served_bounded(
    api: httpx.Client,
    orchestrator: Any,
    agent: ScriptedLocalAgent,
    tenant: Tenant,
    database_url: str,
) -> None:
    path = f"/agents/{tenant.agent_id}/local-agents"
    assert api.get(path, headers=tenant.member.headers).json()["items"][0]["contract_check"] is None
    wrong = [
        "orders.due_at: '24.11.2026 14:00' is not a timestamp the report reads (1 of 200 rows)"
    ]
    assert agent.heartbeat(contract_check=[_check_report(False, wrong)]).status_code == 200
    # A heartbeat without one (an older agent, or no check run) keeps the last one.
    assert agent.heartbeat().status_code == 200
    served = api.get(path, headers=tenant.member.headers).json()["items"][0]["contract_check"]
    assert served == [_check_report(False, wrong)]
    # More than the bounds: refused naming the field, and what was stored stays.
    for bad, field in (
        (_check_report(False, ["x" * 301]), "problems"),
        (_check_report(False, ["p"] * 6), "problems"),
        ({**_check_report(True, []), "tables": [_check_report(True, [])["tables"][0]] * 17},
         "tables"),
        ({**_check_report(True, []), "rows_sample": [["secret"]]}, "rows_sample"),
    ):  # fmt: skip
        r = agent.heartbeat(contract_check=[bad])
        assert r.status_code == 422 and field in r.text and "contract_check" in r.text, r.text
    r = agent.heartbeat(contract_check=[_check_report(True, [])] * 5)
    assert r.status_code == 422 and "contract_check" in r.text
    stored = sql(database_url, "SELECT contract_check FROM local_agents WHERE agent_id = %s",
                 tenant.agent_id)  # fmt: skip
    assert stored[0][0] == [_check_report(False, wrong)]
    assert agent.heartbeat(contract_check=[_check_report(True, [])]).status_code == 200
    served = api.get(path, headers=tenant.member.headers).json()["items"][0]["contract_check"]
    assert served[0]["ok"] is True
    # A machine whose first heartbeat already carries a check (run before `phi-agent run`).
    fresh = ScriptedLocalAgent(orchestrator.url, create_key(api, tenant), name="second-pc")
    try:
        assert fresh.heartbeat(contract_check=[_check_report(True, [])]).status_code == 200
    finally:
        fresh.close()
    items = api.get(path, headers=tenant.member.headers).json()["items"]
    assert [i["contract_check"][0]["ok"] for i in items] == [True, True]
    # Another organization's people do not see it.
    other = make_tenant(database_url)
    assert api.get(path, headers=other.owner.headers).status_code == 404


def test_one_key_registers_a_bounded_number_of_local_agents_reusing_names(
    api: httpx.Client, orchestrator: Any, tenant: Tenant, database_url: str
) -> None:
    limit = orchestrator.settings.max_local_agents_per_key
    key = create_key(api, tenant)
    other_key = create_key(api, tenant, name="second-pc")

    def register(name: str, key: str = key) -> httpx.Response:
        return api.post(
            "/local-agents/heartbeat",
            json={"name": name, "tools": ["db"]},
            headers={"Authorization": f"Bearer {key}"},
        )

    # Heartbeats without an id (an agent that lost it, or a script) used to add a row each.
    ids = {register("pc-1").json()["local_agent_id"] for _ in range(30)}
    assert len(ids) == 1
    for i in range(2, limit + 1):
        assert register(f"pc-{i}").status_code == 200
    refused = register("one-too-many")
    assert refused.status_code == 409
    assert f"the limit is {limit}" in refused.json()["detail"]
    # A name it already has is still fine, and another key has its own allowance.
    assert register("pc-2").status_code == 200
    assert register("one-too-many", other_key).status_code == 200
    rows = sql(
        database_url,
        "SELECT count(*) FROM local_agents WHERE agent_id = %s",
        tenant.agent_id,
    )
    assert rows[0][0] == limit + 1


def test_report_pulls_its_data_through_the_protocol(
    api: httpx.Client, agent: ScriptedLocalAgent, tenant: Tenant, worker: Any, database_url: str
) -> None:
    task_id = _report(api, tenant)
    call = agent.claim()
    assert call["task_id"] == task_id and call["tool"] == "db" and call["attempt"] == 1
    assert {q["name"] for q in call["payload"]["queries"]} >= {"picks", "orders", "shipments"}
    assert wait_task(api, tenant, task_id, {"WAITING"})["status"] == "WAITING"
    result = contract_result(call["payload"], DAY)
    assert agent.callback(call, result).json() == {"status": "accepted"}
    # Stored as its canonical JSON compressed by the orchestrator (zstd), which PostgreSQL
    # keeps as it is rather than compressing it again.
    ((stored, on_disk),) = sql(
        database_url,
        "SELECT result, pg_column_size(result) FROM tool_calls WHERE task_id = %s",
        task_id,
    )
    text = json.dumps(result, sort_keys=True, separators=(",", ":"))
    assert zstandard.decompress(stored) == text.encode()
    assert len(stored) < len(text) / 4 and on_disk >= len(stored)
    # The same result again changes nothing; a different one is refused.
    assert agent.callback(call, result).json() == {"status": "duplicate"}
    assert agent.callback(call, {"results": {}}).status_code == 409
    task = wait_task(api, tenant, task_id, {"SUCCESS", "FAILED"})
    assert task["status"] == "SUCCESS", task["error"]
    assert "Dock 4" in task["output"]["full_report_md"]
    kinds = [e["event_type"] for e in task["events"]]
    assert kinds.count("tool_call_completed") == 1 and kinds.count("task_resumed") == 1
    # Same figures as the cloud-only sample run of the same day.
    sample_id = run_task(api, tenant, "DAILY_WAREHOUSE_REPORT", {"day": DAY})
    sample = wait_task(api, tenant, sample_id, {"SUCCESS", "FAILED"})
    assert sample["output"]["metrics"] == task["output"]["metrics"]


def test_file_tool_payload(
    api: httpx.Client, agent: ScriptedLocalAgent, tenant: Tenant, worker: Any
) -> None:
    task_id = _report(api, tenant, tool="file")
    call = agent.claim()
    assert call["tool"] == "file"
    assert "picks_2026-11-24.csv" in [f["path"] for f in call["payload"]["files"]]
    agent.callback(call, error="policy: path outside the allowed roots")
    task = wait_task(api, tenant, task_id, {"SUCCESS", "FAILED"})
    assert task["status"] == "FAILED" and "outside the allowed roots" in task["error"]


def test_only_tools_the_local_agent_listed_are_offered(
    api: httpx.Client, agent: ScriptedLocalAgent, orchestrator: Any, tenant: Tenant, worker: Any
) -> None:
    files_only = ScriptedLocalAgent(
        orchestrator.url, create_key(api, tenant), tools=("file",), name="files-only"
    )
    files_only.heartbeat()
    task_id = _report(api, tenant)  # a db call
    # The task waits on its db call: the call exists before the file-only agent asks.
    wait_task(api, tenant, task_id, {"WAITING"})
    assert files_only.poll(wait=2).json() == {"tasks": []}
    files_only.close()
    # It was on offer all along, to an agent that lists the db tool.
    assert agent.claim()["tool"] == "db"


def test_long_poll_answers_as_soon_as_work_exists(
    api: httpx.Client, agent: ScriptedLocalAgent, tenant: Tenant, worker: Any
) -> None:
    import threading

    got: list[Any] = []
    t0 = time.monotonic()
    poller = threading.Thread(target=lambda: got.append((agent.poll(wait=20), time.monotonic())))
    poller.start()
    time.sleep(0.5)
    _report(api, tenant)
    poller.join(30)
    response, answered = got[0]
    assert response.json()["tasks"], "the long poll ended empty"
    assert answered - t0 < 10  # well before the 20 s wait


def test_expired_lease_is_handed_out_again_and_the_old_attempt_refused(
    api: httpx.Client, agent: ScriptedLocalAgent, tenant: Tenant, worker: Any
) -> None:
    task_id = _report(api, tenant)
    first = agent.claim()
    assert agent.lease(first).status_code == 200
    time.sleep(2.3)  # the 2 s lease runs out
    second = agent.claim()
    assert second["tool_call_id"] == first["tool_call_id"] and second["attempt"] == 2
    assert agent.lease(first).status_code == 409
    late = agent.callback(first, contract_result(first["payload"], DAY))
    assert late.status_code == 409 and "superseded" in late.json()["detail"]
    assert agent.callback(second, contract_result(second["payload"], DAY)).status_code == 200
    assert wait_task(api, tenant, task_id, {"SUCCESS", "FAILED"})["status"] == "SUCCESS"


def test_lease_running_out_on_every_attempt_fails_the_task_saying_so(
    api: httpx.Client, agent: ScriptedLocalAgent, tenant: Tenant, worker: Any
) -> None:
    task_id = _report(api, tenant)
    for attempt in (1, 2, 3):
        assert agent.claim()["attempt"] == attempt
        time.sleep(2.3)
    task = wait_task(api, tenant, task_id, {"FAILED", "SUCCESS"}, timeout=30)
    assert task["status"] == "FAILED" and "lease ran out" in task["error"]
    assert agent.poll(wait=1).json() == {"tasks": []}


def test_cancelling_a_waiting_task_releases_its_call(
    api: httpx.Client, agent: ScriptedLocalAgent, tenant: Tenant, worker: Any
) -> None:
    task_id = _report(api, tenant)
    call = agent.claim()
    wait_task(api, tenant, task_id, {"WAITING"})
    r = api.post(f"/tasks/{task_id}/cancel", headers=tenant.member.headers)
    assert r.status_code == 200 and r.json()["tool_calls"][0]["status"] == "CANCELLED"
    assert agent.lease(call).status_code == 409
    assert agent.callback(call, contract_result(call["payload"], DAY)).status_code == 409
    assert agent.poll(wait=1).json() == {"tasks": []}
    time.sleep(1)
    assert (
        api.get(f"/tasks/{task_id}", headers=tenant.owner.headers).json()["status"] == "CANCELLED"
    )


def test_unclaimed_call_fails_the_task(
    api: httpx.Client, tenant: Tenant, worker: Any, start_worker: Any
) -> None:
    start_worker(tool_call_unclaimed_seconds=2)
    task_id = _report(api, tenant)
    task = wait_task(api, tenant, task_id, {"FAILED", "SUCCESS"}, timeout=30)
    assert task["status"] == "FAILED" and "no local agent picked this up" in task["error"]


def test_callback_checks(
    api: httpx.Client, agent: ScriptedLocalAgent, tenant: Tenant, worker: Any
) -> None:
    _report(api, tenant)
    call = agent.claim()
    both = agent.http.post(
        "/tool-callbacks",
        json={
            **{k: call[k] for k in ("tool_call_id", "task_id", "attempt", "tool")},
            "result": {},
            "error": "x",
        },
    )
    assert both.status_code == 422 and "exactly one" in both.json()["detail"]
    wrong_tool = agent.callback({**call, "tool": "file"}, {"results": {}})
    assert wrong_tool.status_code == 422
    unknown = agent.callback({**call, "tool_call_id": call["task_id"]}, {"results": {}})
    assert unknown.status_code == 404
    big = {"results": {"picks": {"columns": ["a"], "rows": [["x" * 1000]] * 9000}}}
    assert agent.callback(call, big).status_code == 413
    assert agent.http.post("/tool-callbacks", content=b"{not json").status_code == 422


def test_concurrent_pollers_never_get_the_same_call(
    api: httpx.Client, orchestrator: Any, tenant: Tenant, database_url: str
) -> None:
    import threading

    key = create_key(api, tenant)
    pollers = [ScriptedLocalAgent(orchestrator.url, key) for _ in range(4)]
    for p in pollers:
        p.heartbeat()
    for _ in range(8):
        (task_id,) = sql(
            database_url,
            "INSERT INTO tasks (agent_id, org_id, type, status, input) "
            "VALUES (%s, %s, 'DAILY_WAREHOUSE_REPORT', 'WAITING', '{}') RETURNING id",
            tenant.agent_id,
            tenant.org_id,
        )[0]
        sql(
            database_url,
            "INSERT INTO tool_calls (task_id, org_id, agent_id, step, tool, payload) "
            "VALUES (%s, %s, %s, 'fetch_data', 'db', '{}')",
            task_id,
            tenant.org_id,
            tenant.agent_id,
        )
    claimed: list[tuple[str, int]] = []
    barrier = threading.Barrier(len(pollers))

    def poll(p: ScriptedLocalAgent) -> None:
        barrier.wait()
        for _ in range(3):
            calls = p.poll(wait=1, max_calls=3).json()["tasks"]
            claimed.extend((c["tool_call_id"], c["attempt"]) for c in calls)

    threads = [threading.Thread(target=poll, args=(p,)) for p in pollers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    # A call may be handed out again only after its lease ran out (2 s here), and then as a
    # new attempt: never the same attempt to two pollers.
    assert len(claimed) == len(set(claimed))
    assert len({call_id for call_id, _ in claimed}) == 8
    for p in pollers:
        p.close()


def test_a_waiting_task_says_who_could_take_its_call_and_who_took_it(
    api: httpx.Client, orchestrator: Any, tenant: Tenant, worker: Any
) -> None:
    # No local agent yet: the task's detail has none to offer and the call nobody's.
    task_id = _report(api, tenant)
    task = wait_task(api, tenant, task_id, {"WAITING"})
    assert task["local_agents"] == []
    assert [(c["status"], c["claimed_by"]) for c in task["tool_calls"]] == [("PENDING", None)]
    pc = ScriptedLocalAgent(orchestrator.url, create_key(api, tenant), name="warehouse-pc-1")
    try:
        assert pc.heartbeat().status_code == 200
        task = api.get(f"/tasks/{task_id}", headers=tenant.member.headers).json()
        [seen] = task["local_agents"]
        assert (seen["name"], seen["status"], sorted(seen["tools"])) == (
            "warehouse-pc-1",
            "ACTIVE",
            ["db", "file"],
        )
        assert seen["last_heartbeat_at"]
        pc.claim()
        [call] = api.get(f"/tasks/{task_id}", headers=tenant.member.headers).json()["tool_calls"]
        assert (call["status"], call["claimed_by"], call["claimed_by_host"]) == (
            "CLAIMED",
            "warehouse-pc-1",
            "test-host",
        )
        assert call["claimed_at"] and call["lease_until"]
        # Finished tasks no longer list local agents.
        api.post(f"/tasks/{task_id}/cancel", headers=tenant.member.headers)
        done = api.get(f"/tasks/{task_id}", headers=tenant.member.headers).json()
        assert done["status"] == "CANCELLED" and done["local_agents"] == []
    finally:
        pc.close()


def test_a_key_create_retried_with_its_idempotency_key_gets_the_same_usable_key(
    api: httpx.Client, orchestrator: Any, tenant: Tenant, database_url: str
) -> None:
    """The first answer was lost: the retry must hand over the secret of the key it made, not
    leave a key nobody holds. The secret is kept sealed for the key's window only."""
    keys = f"/agents/{tenant.agent_id}/local-agent-keys"
    idem = "key-" + tenant.agent_id
    headers = {**tenant.owner.headers, "Idempotency-Key": idem}
    made = api.post(keys, json={"name": "pc-1"}, headers=headers)
    assert made.status_code == 201, made.text
    replay = api.post(keys, json={"name": "pc-1"}, headers=headers)
    assert replay.status_code == 201, replay.text
    assert replay.json() == made.json() and replay.headers["Idempotent-Replayed"] == "true"
    assert len(api.get(keys, headers=tenant.owner.headers).json()["items"]) == 1
    # The replayed key is the one that works.
    client = ScriptedLocalAgent(orchestrator.url, replay.json()["key"])
    assert client.heartbeat().status_code == 200
    # Never stored readable: not the key, not its secret part.
    # phia_<key id>_<secret>: the secret itself may hold "_" (url-safe base64).
    secret = made.json()["key"].split("_", 2)[2]
    assert len(secret) == 43
    stored = sql(database_url, "SELECT response::text FROM idempotency_keys")
    assert stored and all(secret not in row[0] for row in stored)
    # Another account with the same key string gets nothing of it.
    other = api.post(
        keys, json={"name": "pc-1"}, headers={**tenant.member.headers, "Idempotency-Key": idem}
    )
    assert other.status_code == 403 and secret not in other.text
    # Revoked since: the retry says so instead of handing over a dead key.
    gone = api.delete(f"{keys}/{made.json()['id']}", headers=tenant.owner.headers)
    assert gone.status_code == 204
    late = api.post(keys, json={"name": "pc-1"}, headers=headers)
    assert late.status_code == 409, late.text
    assert made.json()["prefix"] in late.json()["detail"] and "revoked" in late.json()["detail"]
    assert secret not in late.text
    client.close()


def test_expired_idempotency_keys_and_their_sealed_secrets_are_purged(
    api: httpx.Client, tenant: Tenant, database_url: str
) -> None:
    keys = f"/agents/{tenant.agent_id}/local-agent-keys"
    headers = {**tenant.owner.headers, "Idempotency-Key": "purge-" + tenant.agent_id}
    assert api.post(keys, json={"name": "pc-9"}, headers=headers).status_code == 201
    owner = tenant.owner.user_id
    count = "SELECT count(*) FROM idempotency_keys WHERE user_id = %s"
    sql(
        database_url,
        "UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE user_id = %s",
        owner,
    )
    assert sql(database_url, count, owner) == [(1,)]

    async def purge() -> int:
        pool = open_pool(database_url.replace("postgresql+psycopg://", "postgresql://"), max_size=2)
        await pool.open()
        try:
            return await purge_idempotency_keys(pool)
        finally:
            await pool.close()

    assert asyncio.run(purge()) >= 1
    assert sql(database_url, count, owner) == [(0,)]


def test_creates_with_one_idempotency_key_create_once(
    api: httpx.Client, tenant: Tenant, database_url: str
) -> None:
    headers = {**tenant.owner.headers, "Idempotency-Key": "run-" + tenant.agent_id}
    path = f"/agents/{tenant.agent_id}/run-task"
    body = {"type": "DAILY_WAREHOUSE_REPORT", "input": {"day": DAY}}
    first = api.post(path, json=body, headers=headers)
    again = api.post(path, json=body, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    other = api.post(path, json={**body, "input": {"day": "2026-11-23"}}, headers=headers)
    assert other.status_code == 422
    count = sql(database_url, "SELECT count(*) FROM tasks WHERE agent_id = %s", tenant.agent_id)
    assert count[0][0] == 1

"""Profile generation on the builtin provider, versions and config export, through HTTP with a
real worker process. No model is configured: this is the path a new user takes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import psycopg
import pytest
import yaml
from core_factories import add_member, create_agent, create_org, signup
from document_api import upload, wait_done
from document_files import make_docx, make_pdf
from profile_api import generate, wait_generation

from phi_agent_config import WORKFLOW_TYPES, parse_config
from phi_llm import BUILTIN_LABEL

JD = [
    ("h1", "Warehouse Analyst - Job Description"),
    ("h2", "Responsibilities"),
    ("p", "Prepare the daily inventory report for the operations manager by 17:00."),
    ("p", "Reconcile cycle counts with the WMS and flag locations that disagree."),
    ("p", "Track pick accuracy by zone and review slow-moving stock every week."),
]
SOP_PAGES = [
    [
        "Stock counts",
        "Cycle counts must be entered in the WMS within two hours of the count. "
        "A discrepancy above 2 percent requires approval from the shift supervisor.",
    ],
    [
        "Safety",
        "Never walk in a forklift aisle without a high-visibility vest. "
        "Spills are reported to the safety officer at once and the area is closed off.",
    ],
]


@pytest.fixture(scope="module")
def worker(profile_worker_factory: Callable[..., Any]) -> Any:
    return profile_worker_factory()


@pytest.fixture
def team(client: httpx.Client) -> dict[str, Any]:
    owner, member = signup(client), signup(client)
    org = create_org(client, owner)
    add_member(client, owner, org["id"], member)
    agent = create_agent(client, owner, org["id"], name="Nightly Analyst")
    return {"owner": owner, "member": member, "org": org, "agent": agent}


def upload_docs(client: httpx.Client, team: dict[str, Any]) -> None:
    owner, agent_id = team["owner"], team["agent"]["id"]
    for data, name, kind in (
        (make_docx(JD), "analyst-jd.docx", "JD"),
        (make_pdf(SOP_PAGES), "stock-sop.pdf", "SOP"),
    ):
        r = upload(client, owner, data, name, agent_id=agent_id, source_type=kind)
        assert r.status_code == 202, r.text
        assert wait_done(client, owner, r.json())["status"] == "READY"


def test_generated_profile_reflects_the_documents_and_exports(
    client: httpx.Client, team: dict[str, Any], worker: Any
) -> None:
    owner, agent_id = team["owner"], team["agent"]["id"]
    upload_docs(client, team)
    started = generate(client, owner, agent_id)
    assert started["status"] in ("PENDING", "RUNNING", "SUCCEEDED")
    done = wait_generation(client, owner, started)
    assert done["status"] == "SUCCEEDED", done["error"]

    agent = client.get(f"/agents/{agent_id}", headers=owner.headers).json()
    prompt = agent["system_prompt"]
    assert prompt.startswith("You are Nightly Analyst, a virtual Warehouse Analyst")
    # Duties, rules and safety lines come from the documents, each citing its source.
    assert (
        "Prepare the daily inventory report for the operations manager by 17:00. [analyst-jd.docx]"
        in prompt
    )
    assert "Cycle counts must be entered in the WMS within two hours of the count." in prompt
    assert "approval from the shift supervisor. [stock-sop.pdf, p. 1]" in prompt
    assert (
        "Never walk in a forklift aisle without a high-visibility vest. [stock-sop.pdf, p. 2]"
        in prompt
    )
    assert BUILTIN_LABEL in prompt
    config = agent["config"]
    assert config["profile_version"] == 1
    assert {"type": "DAILY_WAREHOUSE_REPORT"}.items() <= config["workflows"][0].items()
    assert any(r["tool"] == "db" and "WMS" in r["rule"] for r in config["tool_usage_rules"])

    versions = client.get(f"/agents/{agent_id}/profile-versions", headers=owner.headers).json()
    assert [(v["version"], v["provider"], v["produced_without_llm"]) for v in versions] == [
        (1, "builtin", True)
    ]
    full = client.get(f"/agents/{agent_id}/profile-versions/1", headers=owner.headers).json()
    assert full["system_prompt"] == prompt
    assert {d["name"] for d in full["profile"]["documents"]} == {"analyst-jd.docx", "stock-sop.pdf"}

    # The exported YAML validates with the schema the local agent uses.
    r = client.get(f"/agents/{agent_id}/config", headers=team["member"].headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/yaml")
    # Saved under the name the local agent's instructions use.
    assert r.headers["content-disposition"] == 'attachment; filename="phi-agent-config.yaml"'
    exported = parse_config(r.text)
    assert str(exported.agent_id) == agent_id and str(exported.org_id) == team["org"]["id"]
    assert (exported.industry, exported.role) == ("logistics", "warehouse_analyst")
    assert exported.workflows[0].schedule == "0 16 * * *"  # an hour before the "by 17:00" in the JD
    db = next(t for t in exported.tools if t.key == "db")
    # Connections and limits are the customer's policy.yaml's: nothing of them is exported.
    assert (db.required_settings, db.settings) == ([], {})
    assert any("WMS" in rule for rule in db.usage_rules)
    assert str(exported.orchestrator_url).startswith("http://localhost:8001")
    as_json = client.get(f"/agents/{agent_id}/config?format=json", headers=owner.headers)
    assert as_json.headers["content-type"].startswith("application/json")
    assert parse_config(as_json.text) == exported == parse_config(yaml.safe_load(r.text))


def test_versions_are_kept_and_can_be_restored(
    client: httpx.Client, team: dict[str, Any], worker: Any, live_server: Any
) -> None:
    owner, member, agent_id = team["owner"], team["member"], team["agent"]["id"]
    assert (
        wait_generation(client, owner, generate(client, owner, agent_id))["status"] == "SUCCEEDED"
    )
    first_prompt = client.get(f"/agents/{agent_id}", headers=owner.headers).json()["system_prompt"]
    upload_docs(client, team)
    assert (
        wait_generation(client, owner, generate(client, owner, agent_id))["status"] == "SUCCEEDED"
    )
    second_prompt = client.get(f"/agents/{agent_id}", headers=owner.headers).json()["system_prompt"]
    assert second_prompt != first_prompt and "stock-sop.pdf" in second_prompt

    # Members read versions but cannot restore or generate.
    assert (
        client.post(
            f"/agents/{agent_id}/profile-versions/1/restore", headers=member.headers
        ).status_code
        == 403
    )
    assert (
        client.post(f"/agents/{agent_id}/generate-profile", headers=member.headers).status_code
        == 403
    )
    # Version 1 as a profile saved before profiles were checked: a made-up scheduled type.
    invented = {
        "type": "MONTHLY_FIRST_WORKING_SEND",
        "description": "Send.",
        "schedule": "0 9 1 * *",
    }
    _sql(
        live_server,
        "UPDATE agent_profile_versions SET profile = jsonb_set(profile, '{workflows}', "
        "profile->'workflows' || %s::jsonb) WHERE agent_id = %s AND version = 1",
        json.dumps([invented]),
        agent_id,
    )
    r = client.post(f"/agents/{agent_id}/profile-versions/1/restore", headers=owner.headers)
    assert r.status_code == 201, r.text
    assert (r.json()["version"], r.json()["restored_from"]) == (3, 1)
    # Restoring checks the workflows again: the made-up type is a suggestion, not config.
    config = client.get(f"/agents/{agent_id}", headers=owner.headers).json()["config"]
    assert "MONTHLY_FIRST_WORKING_SEND" not in [w["type"] for w in config["workflows"]]
    (suggestion,) = [
        s for s in config["schedule_suggestions"] if s["type"] == "MONTHLY_FIRST_WORKING_SEND"
    ]
    assert suggestion["schedule"] == "0 9 1 * *" and "no workflow type" in suggestion["reason"]
    agent = client.get(f"/agents/{agent_id}", headers=owner.headers).json()
    assert agent["system_prompt"] == first_prompt and agent["config"]["profile_version"] == 3
    # Audit: each generation by the owner who asked for it (written by the worker), the
    # restore by the owner; the members' refused attempts record nothing.
    url = live_server.settings.database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        events = conn.execute(
            "SELECT action, actor_id::text, details->>'version' FROM audit_events "
            "WHERE target_id = %s AND action LIKE 'profile.%%' ORDER BY id",
            (agent_id,),
        ).fetchall()
    assert events == [
        ("profile.generated", owner.id, "1"),
        ("profile.generated", owner.id, "2"),
        ("profile.restored", owner.id, "1"),
    ]
    versions = client.get(f"/agents/{agent_id}/profile-versions", headers=member.headers).json()
    assert [v["version"] for v in versions] == [3, 2, 1]

    assert (
        client.post(
            f"/agents/{agent_id}/profile-versions/9/restore", headers=owner.headers
        ).status_code
        == 404
    )
    assert (
        client.get(f"/agents/{agent_id}/profile-versions/9", headers=owner.headers).status_code
        == 404
    )


def test_no_documents_and_disabled_agent_still_get_a_profile(
    client: httpx.Client, team: dict[str, Any], worker: Any
) -> None:
    owner, agent_id = team["owner"], team["agent"]["id"]
    r = client.patch(f"/agents/{agent_id}", json={"status": "DISABLED"}, headers=owner.headers)
    assert r.status_code == 200, r.text
    assert (
        wait_generation(client, owner, generate(client, owner, agent_id))["status"] == "SUCCEEDED"
    )
    full = client.get(f"/agents/{agent_id}/profile-versions/1", headers=owner.headers).json()
    warnings = " ".join(full["profile"]["warnings"])
    assert "DISABLED" in warnings and "no processed documents" in warnings
    # Built from the role template: its description is in the prompt.
    assert "role template: Warehouse Analyst" in str(full["profile"]["duties"])
    assert "daily inventory report" in full["system_prompt"]


def test_bad_input(client: httpx.Client, team: dict[str, Any]) -> None:
    owner, agent_id = team["owner"], team["agent"]["id"]
    r = client.get(f"/agents/{agent_id}/config?format=xml", headers=owner.headers)
    assert r.status_code == 422 and "format" in r.text
    r = client.get(f"/agents/{agent_id}/profile-generations/not-a-uuid", headers=owner.headers)
    assert r.status_code == 422
    missing = "00000000-0000-0000-0000-000000000000"
    assert (
        client.get(
            f"/agents/{agent_id}/profile-generations/{missing}", headers=owner.headers
        ).status_code
        == 404
    )
    assert (
        client.post(f"/agents/{missing}/generate-profile", headers=owner.headers).status_code == 404
    )
    assert (
        client.get(f"/agents/{agent_id}/profile-versions/abc", headers=owner.headers).status_code
        == 422
    )

    # A DSN with a password typed into the db tool's settings is refused when saved: the tool
    # takes no settings (the customer's policy.yaml holds connections, by environment variable).
    tools = {t["key"]: t for t in client.get("/tools").json()}
    r = client.patch(
        f"/agents/{agent_id}",
        json={
            "tools": [
                {"tool_id": tools["db"]["id"], "config": {"dsn": "postgresql://app:hunter2@db/wms"}}
            ]
        },
        headers=owner.headers,
    )
    assert r.status_code == 422 and "dsn" in r.text
    assert "hunter2" not in client.get(f"/agents/{agent_id}/config", headers=owner.headers).text
    # A hand-edited workflow with a broken schedule is refused when it is saved.
    r = client.patch(
        f"/agents/{agent_id}",
        json={
            "tools": [],
            "config": {"workflows": [{"type": "NIGHTLY", "schedule": "every night"}]},
        },
        headers=owner.headers,
    )
    assert r.status_code == 422 and "workflows[0].schedule" in r.text, r.text


def _sql(live_server: Any, statement: str, *params: Any) -> None:
    url = live_server.settings.database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement, params)


def _labelled(name: str) -> tuple[dict[str, Any], bytes]:
    """A labelled document of bench/data/profiles, rendered as the bench renders it."""
    import importlib
    import sys
    from pathlib import Path

    bench = Path(__file__).resolve().parents[4] / "bench"
    if str(bench) not in sys.path:
        sys.path.insert(0, str(bench))
    module = importlib.import_module("profile_composer")
    doc = yaml.safe_load((bench / "data" / "profiles" / f"{name}.yaml").read_text())
    return doc, module.render(doc)


def test_transport_manager_profile_reads_the_documents_like_a_person(
    client: httpx.Client, team: dict[str, Any], worker: Any
) -> None:
    """The issue's case: a transport manager's JD (cover page, long bullets, 06:00-14:30
    hours) and drivers' hours SOP, as PDFs, with no model configured."""
    owner, agent_id = team["owner"], team["agent"]["id"]
    labelled = {}
    for name, kind in (("transport_manager_jd", "JD"), ("transport_driver_hours_sop", "SOP")):
        doc, data = _labelled(name)
        labelled[name] = doc
        r = upload(client, owner, data, doc["name"], agent_id=agent_id, source_type=kind)
        assert r.status_code == 202, r.text
        assert wait_done(client, owner, r.json())["status"] == "READY"
    done = wait_generation(client, owner, generate(client, owner, agent_id))
    assert done["status"] == "SUCCEEDED", done["error"]
    agent = client.get(f"/agents/{agent_id}", headers=owner.headers).json()
    prompt, config = agent["system_prompt"], agent["config"]

    # Whole sections are read: every key responsibility is a duty, every rule a rule.
    jd = labelled["transport_manager_jd"]
    duties = [d["text"] for d in config["duties"]]
    for text, *label in (b[1:] for b in jd["blocks"]):
        if label == ["D"]:
            assert text in duties, text
        if label in (["R"], ["S"]):
            assert f"- {text} [transport-manager-jd.pdf" in prompt, text
    # Cover-page lines are not duties, rules or safety constraints.
    for cover in ("Location:", "Reports to:", "Version 4.2", "Daventry DC", "Targets:"):
        assert not any(cover in d for d in duties), cover
        assert cover not in prompt.split("Your duties:")[1], cover
    # An SOP step is a duty, not a rule of the db tool.
    db_rules = [r["rule"] for r in config["tool_usage_rules"] if r["tool"] == "db"]
    assert not any("download the driver card" in r for r in db_rules)

    # The stated schedules, inside the 06:00-14:30 hours, as suggestions: no workflow type
    # runs them, so none is config; "daily and weekly driving time" schedules nothing.
    assert {w["type"] for w in config["workflows"]} <= WORKFLOW_TYPES  # the role's own
    scheduled = {w["schedule"]: w["description"] for w in config["schedule_suggestions"]}
    assert any(c.endswith("* * 1") and "every Monday" in d for c, d in scheduled.items())
    assert any(c.split()[2:] == ["1", "*", "*"] for c in scheduled)  # first of each month
    assert any(c.split()[2:] == ["5", "*", "*"] for c in scheduled)  # the SOP's 5th
    for cron in scheduled:
        minute, hour = (int(x) for x in cron.split()[:2])
        assert 6 * 60 <= hour * 60 + minute < 14 * 60 + 30, cron
    assert not any("driving time" in d for d in scheduled.values())


def test_a_generation_retried_with_its_key_after_it_finished_is_not_run_again(
    client: httpx.Client, team: dict[str, Any], worker: Any
) -> None:
    owner, agent_id = team["owner"], team["agent"]["id"]
    path = f"/agents/{agent_id}/generate-profile"
    headers = {**owner.headers, "Idempotency-Key": "generate-" + agent_id}
    first = client.post(path, headers=headers)
    assert first.status_code == 202, first.text
    assert wait_generation(client, owner, first.json())["status"] == "SUCCEEDED"
    # The answer was lost and the browser sends the click again, after the generation ended:
    # the first answer, no second generation (nor a second bill of tokens).
    again = client.post(path, headers=headers)
    assert again.status_code == 202, again.text
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    versions = client.get(f"/agents/{agent_id}/profile-versions", headers=owner.headers).json()
    assert [v["version"] for v in versions] == [1]
    # Without the key, a click is a new generation.
    assert generate(client, owner, agent_id)["id"] != first.json()["id"]

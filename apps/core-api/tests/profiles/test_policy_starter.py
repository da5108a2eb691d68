"""The starter policy.yaml offered beside the config: made from the agent's tools, and a file
the real phi-agent loads and works with."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from core_factories import create_agent, create_org, signup, tools_by_key

PHI_AGENT = shutil.which("phi-agent", path=str(Path(sys.executable).parent)) or "phi-agent"


def _phi_agent(policy: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PHI_AGENT, "policy", "test", "--policy", str(policy), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
        cwd=policy.parent,
    )


def test_starter_policy_follows_the_agent_tools_and_phi_agent_loads_it(
    client: httpx.Client, tmp_path: Path
) -> None:
    owner = signup(client)
    org = create_org(client, owner)
    tools = tools_by_key(client)
    agent = create_agent(client, owner, org["id"], name='Night "shift" analyst')
    path = f"/agents/{agent['id']}/policy-starter"
    client.patch(
        f"/agents/{agent['id']}",
        json={"tools": [{"tool_id": tools[k]["id"], "config": {}} for k in ("db", "file")]},
        headers=owner.headers,
    ).raise_for_status()
    r = client.get(path, headers=owner.headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/yaml")
    assert r.headers["content-disposition"] == 'attachment; filename="policy.yaml"'
    data = yaml.safe_load(r.text)
    assert data["name"] == 'Night "shift" analyst'
    assert data["tools"]["db"]["enabled"] and data["tools"]["file"]["enabled"]
    assert "password" not in r.text.split("dsn_env")[1].split("\n")[0]

    policy = tmp_path / "policy.yaml"
    policy.write_text(r.text)
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "picks.csv").write_text("a\n1\n")
    dsn = f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    ok = _phi_agent(policy, "--sql", "SELECT count(*) FROM picks", PHI_WAREHOUSE_DSN=dsn)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "allowed" in ok.stdout and "'warehouse'" in ok.stdout
    refused = _phi_agent(policy, "--sql", "DELETE FROM picks", PHI_WAREHOUSE_DSN=dsn)
    assert refused.returncode == 3, refused.stdout + refused.stderr
    read = _phi_agent(policy, "--path", str(tmp_path / "exports" / "picks.csv"))
    assert read.returncode == 0, read.stdout + read.stderr

    # Only the file tool: the db section goes, and the file still loads.
    client.patch(
        f"/agents/{agent['id']}",
        json={"tools": [{"tool_id": tools["file"]["id"], "config": {}}]},
        headers=owner.headers,
    ).raise_for_status()
    files_only = client.get(path, headers=owner.headers).text
    assert "db" not in yaml.safe_load(files_only)["tools"]
    policy.write_text(files_only)
    off = _phi_agent(policy, "--sql", "SELECT 1")
    assert off.returncode == 3 and "the db tool is off" in off.stdout + off.stderr


@pytest.mark.parametrize("who", ["stranger", "nobody"])
def test_starter_policy_is_for_members_only(client: httpx.Client, who: str) -> None:
    owner = signup(client)
    org = create_org(client, owner)
    agent = create_agent(client, owner, org["id"])
    headers = signup(client).headers if who == "stranger" else {}
    r = client.get(f"/agents/{agent['id']}/policy-starter", headers=headers)
    assert r.status_code == (404 if who == "stranger" else 401)


def test_settings_stored_before_the_tools_lost_them_are_not_exported(
    client: httpx.Client, database_url: str
) -> None:
    # An agent saved when the db tool still asked for a host and a password variable: the
    # stored values stay, but the config no longer tells the customer to set a variable that
    # phi-agent never read.
    import psycopg

    owner = signup(client)
    org = create_org(client, owner)
    tools = tools_by_key(client)
    agent = create_agent(client, owner, org["id"])
    client.patch(
        f"/agents/{agent['id']}",
        json={"tools": [{"tool_id": tools["db"]["id"], "config": {}}]},
        headers=owner.headers,
    ).raise_for_status()
    old = {"host": "db", "password_env": "PHI_DB_PASSWORD", "driver": "mssql"}
    with psycopg.connect(database_url.replace("+psycopg", "")) as conn:
        conn.execute(
            "UPDATE agent_tools SET config = %s::jsonb WHERE agent_id = %s",
            (json.dumps(old), agent["id"]),
        )
    exported = yaml.safe_load(
        client.get(f"/agents/{agent['id']}/config", headers=owner.headers).text
    )
    [db] = [t for t in exported["tools"] if t["key"] == "db"]
    assert db["settings"] == {} and db["required_settings"] == []

from __future__ import annotations

import copy
import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from phi_agent_config import (
    AgentConfig,
    ConfigFileError,
    check_cron,
    dump_json,
    dump_yaml,
    load_config,
    parse_config,
)


def example() -> dict[str, Any]:
    agent, org = uuid.uuid4(), uuid.uuid4()
    return {
        "agent_id": str(agent),
        "org_id": str(org),
        "name": "Warehouse Analyst",
        "industry": "logistics",
        "role": "warehouse_analyst",
        "llm": {"model": "gpt-4.1", "temperature": 0.2},
        "tools": [
            {
                "key": "db",
                "required_settings": ["DB_DSN"],
                "settings": {"read_only": True, "max_rows": 5000, "dsn": "env:DB_DSN"},
            },
            {"key": "file", "settings": {"allowed_dirs": ["/srv/reports"]}},
        ],
        "memory": {"org_namespace": f"org_{org}", "agent_namespace": f"agent_{agent}"},
        "workflows": [{"type": "DAILY_WAREHOUSE_REPORT", "schedule": "0 17 * * *"}],
        "orchestrator_url": "http://localhost:8001",
    }


@pytest.mark.parametrize("dump", [dump_yaml, dump_json])
def test_round_trip_through_a_file(tmp_path: Path, dump) -> None:
    config = parse_config(example())
    path = tmp_path / ("agent.yaml" if dump is dump_yaml else "agent.json")
    path.write_text(dump(config))
    assert load_config(path) == config


def test_yaml_output_reads_like_the_plan() -> None:
    text = dump_yaml(parse_config(example()))
    assert text.startswith("config_version: 1\nagent_id: ")
    assert "required_settings:\n  - DB_DSN" in text
    assert "schedule: 0 17 * * *" in text


@pytest.mark.parametrize(
    "cron",
    [
        "0 17 * * *",
        "*/15 6-18 * * MON-FRI",
        "0 0 1,15 * *",
        "30 2 * JAN-MAR 0",
        "@daily",
        "0 9 * * 7",
        "0 0 29 2 *",
    ],
)
def test_valid_schedules(cron: str) -> None:
    assert check_cron(cron) == cron


@pytest.mark.parametrize(
    "cron, problem",
    [
        ("0 17 * *", "5 fields"),
        ("60 * * * *", "minute '60'"),
        ("0 24 * * *", "hour '24'"),
        ("0 0 0 * *", "day of month '0'"),
        ("0 0 * FOO *", "month 'FOO'"),
        ("*/0 * * * *", "minute '*/0'"),
        ("every day", "5 fields"),
        ("99 99 * * *", "minute '99' is not valid (it takes 0-59"),
        ("@reboot", "not a time the scheduler can run at"),
        ("0 0 31 2 *", "never runs"),
    ],
)
def test_invalid_schedules_name_the_field(cron: str, problem: str) -> None:
    data = example()
    data["workflows"][0]["schedule"] = cron
    with pytest.raises(ConfigFileError, match=re.escape(problem)) as exc:
        parse_config(data)
    assert "workflows.0.schedule" in str(exc.value)


@pytest.mark.parametrize(
    "mutate, problem",
    [
        (
            lambda d: d["tools"][0]["settings"].update(password="hunter2"),
            "setting 'password' looks secret",
        ),
        (
            lambda d: d["tools"][0]["settings"].update(dsn="postgresql://app:s3cret@db/wms"),
            "setting 'dsn' looks secret",
        ),
        (
            lambda d: d["tools"][0]["settings"].update(host="postgresql://app:s3cret@db/wms"),
            "URL with a password",
        ),
        (
            lambda d: d["tools"][1]["settings"].update(note="sk-proj-abcdefghijklmnopqrstuvwx"),
            "OpenAI-style API key",
        ),
        (
            lambda d: d["tools"][1]["settings"].update(x="Zq8XbT2mK9pL4vR7sN1wY6uE3hJ0aC5d"),
            "looks like a key or token",
        ),
        (lambda d: d.update(name="-----BEGIN RSA PRIVATE KEY-----"), "private key"),
        (
            lambda d: d["workflows"][0].update(description="log in with password: Winter2024!"),
            "password assignment",
        ),
        (lambda d: d["tools"][0].update(required_settings=["db dsn"]), "environment variable name"),
    ],
)
def test_secrets_are_refused(mutate, problem: str) -> None:
    data = example()
    mutate(data)
    with pytest.raises(ConfigFileError, match=problem):
        parse_config(data)


def test_env_references_and_ordinary_text_are_allowed() -> None:
    data = example()
    data["tools"][0]["settings"].update(password="env:DB_PASSWORD", token="${API_TOKEN}")
    data["workflows"][0]["description"] = (
        "Summarise the day's throughput and the password reset policy."
    )
    assert parse_config(data).tools[0].settings["password"] == "env:DB_PASSWORD"


@pytest.mark.parametrize(
    "mutate, problem",
    [
        (lambda d: d.pop("agent_id"), "agent_id: Field required"),
        (lambda d: d.update(agent_id="nope"), "agent_id"),
        (lambda d: d.update(orchestrator_url="not a url"), "orchestrator_url"),
        (lambda d: d.update(surprise=1), "surprise: Extra inputs are not permitted"),
        (lambda d: d["tools"].append(copy.deepcopy(d["tools"][0])), "listed twice: db"),
        (lambda d: d["llm"].update(temperature=5), "llm.temperature"),
        (lambda d: d["workflows"][0].update(type="daily report"), "workflows.0.type"),
    ],
)
def test_bad_fields_are_named(mutate, problem: str) -> None:
    data = example()
    mutate(data)
    with pytest.raises(ConfigFileError, match=problem):
        parse_config(data)


def test_unreadable_or_non_mapping_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(ConfigFileError, match="must be a mapping"):
        load_config(bad)
    bad.write_text("key: [unclosed")
    with pytest.raises(ConfigFileError, match="not valid YAML"):
        load_config(bad)


def test_json_schema_is_available_for_other_tools() -> None:
    schema = AgentConfig.model_json_schema()
    assert {"agent_id", "org_id", "llm", "memory", "orchestrator_url"} <= set(schema["required"])
    json.dumps(schema)

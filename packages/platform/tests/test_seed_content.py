"""Checks on the catalog seed file's content, independent of the loader that stores it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

SEED_PATH = Path(__file__).resolve().parents[1] / "src" / "phi_platform" / "catalog" / "seed.yaml"

TOOL_KEYS = {"db", "file", "cctv", "email", "browser"}
NOT_YET_AVAILABLE = {"cctv", "email", "browser"}
SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
ENV_VAR_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
# Property names that would carry a secret value rather than the name of a variable holding it.
SECRET_WORDS = ("password", "secret", "token", "api_key", "credential")


def _load() -> dict[str, Any]:
    with SEED_PATH.open(encoding="utf-8") as f:
        data = yaml.safe_load(f)
    assert isinstance(data, dict)
    return data


SEED = _load()
TOOLS: list[dict[str, Any]] = SEED["tools"]
INDUSTRIES: list[dict[str, Any]] = SEED["industries"]
ROLES = [(ind["key"], role) for ind in INDUSTRIES for role in ind["roles"]]


def _tool_id(tool: dict[str, Any]) -> str:
    return str(tool["key"])


def _walk_schemas(schema: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every subschema reached through properties/items, with a readable path."""
    if not isinstance(schema, dict):
        return []
    found = [(path or "<root>", schema)]
    for name, sub in schema.get("properties", {}).items():
        found += _walk_schemas(sub, f"{path}.{name}")
    if "items" in schema:
        found += _walk_schemas(schema["items"], f"{path}[]")
    return found


def _walk_values(value: Any, path: str = "") -> list[tuple[str, Any]]:
    """Every (key path, value) pair in a nested config."""
    out: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        for k, v in value.items():
            out.append((f"{path}.{k}", v))
            out += _walk_values(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _walk_values(v, f"{path}[{i}]")
    return out


def test_top_level_has_exactly_tools_and_industries() -> None:
    assert set(SEED) == {"tools", "industries"}


def test_tool_keys_are_exactly_the_five_tools() -> None:
    keys = [t["key"] for t in TOOLS]
    assert len(keys) == len(set(keys)), f"duplicate tool keys: {keys}"
    assert set(keys) == TOOL_KEYS


@pytest.mark.parametrize("tool", TOOLS, ids=_tool_id)
def test_tool_entry_shape(tool: dict[str, Any]) -> None:
    assert set(tool) == {
        "key",
        "name",
        "available",
        "description",
        "config_schema",
        "default_config",
    }
    assert tool["name"].strip() and tool["description"].strip()
    assert tool["available"] is (tool["key"] not in NOT_YET_AVAILABLE)


@pytest.mark.parametrize("tool", TOOLS, ids=_tool_id)
def test_tool_config_schema_is_a_valid_draft_2020_12_schema(tool: dict[str, Any]) -> None:
    schema = tool["config_schema"]
    Draft202012Validator.check_schema(schema)
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) <= set(schema["properties"])


@pytest.mark.parametrize("tool", TOOLS, ids=_tool_id)
def test_every_setting_is_described(tool: dict[str, Any]) -> None:
    for path, sub in _walk_schemas(tool["config_schema"]):
        if path == "<root>":
            continue
        # Array items may lean on the array's own description.
        if path.endswith("[]") and not sub.get("properties"):
            continue
        assert sub.get("description", "").strip(), f"{tool['key']}{path} has no description"


@pytest.mark.parametrize("tool", TOOLS, ids=_tool_id)
def test_default_config_validates(tool: dict[str, Any]) -> None:
    Draft202012Validator(tool["config_schema"]).validate(tool["default_config"])


@pytest.mark.parametrize("tool", TOOLS, ids=_tool_id)
def test_schema_defaults_match_their_own_schema_and_the_default_config(
    tool: dict[str, Any],
) -> None:
    schema = tool["config_schema"]
    for _path, sub in _walk_schemas(schema):
        if "default" in sub:
            Draft202012Validator(sub).validate(sub["default"])
    for name, sub in schema["properties"].items():
        if "default" in sub and name in tool["default_config"]:
            assert tool["default_config"][name] == sub["default"], f"{tool['key']}.{name}"


@pytest.mark.parametrize("tool", TOOLS, ids=_tool_id)
def test_no_secret_values_only_env_var_names(tool: dict[str, Any]) -> None:
    for path, _sub in _walk_schemas(tool["config_schema"]):
        name = path.rsplit(".", 1)[-1]
        if any(word in name for word in SECRET_WORDS):
            assert name.endswith("_env"), f"{tool['key']}{path} would hold a secret"
    for path, value in _walk_values(tool["default_config"]):
        name = path.rsplit(".", 1)[-1]
        if name.endswith("_env"):
            assert isinstance(value, str) and ENV_VAR_NAME.match(value), f"{path}={value!r}"
        elif any(word in name for word in SECRET_WORDS):
            pytest.fail(f"{tool['key']} default_config{path} holds a secret value")


@pytest.mark.parametrize("key", ["db", "file"])
def test_local_tools_take_no_setting_the_local_agent_would_ignore(key: str) -> None:
    # phi-agent reads connections, limits and folders from the customer's policy.yaml only:
    # a host, a driver, a password variable or a folder set here would be silently ignored.
    tool = next(t for t in TOOLS if t["key"] == key)
    validator = Draft202012Validator(tool["config_schema"])
    assert validator.is_valid({})
    for stray in ({"host": "db"}, {"driver": "mssql"}, {"password_env": "X"}, {"roots": ["/"]}):
        assert not validator.is_valid(stray), stray
    assert "policy.yaml" in tool["config_schema"]["description"]


def test_at_least_five_industries_with_unique_keys_including_logistics() -> None:
    keys = [i["key"] for i in INDUSTRIES]
    assert len(keys) >= 5
    assert len(keys) == len(set(keys)), f"duplicate industry keys: {keys}"
    assert all(SNAKE_CASE.match(k) for k in keys)
    logistics = next(i for i in INDUSTRIES if i["key"] == "logistics")
    assert {r["key"] for r in logistics["roles"]} >= {
        "warehouse_analyst",
        "ops_manager",
        "safety_officer",
    }


@pytest.mark.parametrize("industry", INDUSTRIES, ids=lambda i: str(i["key"]))
def test_industry_has_three_or_more_roles_with_unique_keys(industry: dict[str, Any]) -> None:
    assert set(industry) == {"key", "name", "description", "roles"}
    assert industry["name"].strip() and industry["description"].strip()
    keys = [r["key"] for r in industry["roles"]]
    assert len(keys) >= 3
    assert len(keys) == len(set(keys)), f"duplicate role keys in {industry['key']}: {keys}"


@pytest.mark.parametrize(
    "industry_key,role", ROLES, ids=lambda x: x if isinstance(x, str) else x["key"]
)
def test_role_template_content(industry_key: str, role: dict[str, Any]) -> None:
    assert set(role) == {
        "key",
        "name",
        "description",
        "default_capabilities",
        "default_tools",
        "example_tasks",
    }
    assert SNAKE_CASE.match(role["key"])
    assert role["name"].strip()

    sentences = re.findall(r"[.!?](?:\s|$)", role["description"].strip())
    assert 3 <= len(sentences) <= 5, f"{industry_key}/{role['key']}: {len(sentences)} sentences"

    caps = role["default_capabilities"]
    assert 5 <= len(caps) <= 8
    assert len(caps) == len(set(caps))
    assert all(isinstance(c, str) and SNAKE_CASE.match(c) for c in caps), caps

    tools = role["default_tools"]
    assert tools, "a role needs at least one tool"
    assert len(tools) == len(set(tools))
    assert set(tools) <= TOOL_KEYS, f"unknown tools: {set(tools) - TOOL_KEYS}"

    # Something to ask of every role (AGENT_TASK suggestions in the web app).
    examples = role["example_tasks"]
    assert 2 <= len(examples) <= 4 and len(set(examples)) == len(examples)
    assert all(isinstance(e, str) and 20 <= len(e) <= 200 and e[-1] in ".?" for e in examples)

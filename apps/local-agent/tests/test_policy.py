"""The local policy file: validation errors name the file, the field and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from phi_agent.policy import PolicyFileError, load_policy


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize(
    ("data", "field", "reason"),
    [
        ({"tools": {"db": {"enabled": True}}}, "tools.db", "no connections"),
        ({"tools": {"file": {"enabled": True}}}, "tools.file", "no roots"),
        ({"tools": {"file": {"extensions": ["exe"]}}}, "tools.file.extensions", "unsupported"),
        ({"tools": {"db": {"connections": {"w": {"dsn": "postgresql://u:pw@h/db"}}}}},
         "tools.db.connections.w", "password"),
        ({"tools": {"db": {"connections": {"w": {}}}}}, "tools.db.connections.w", "exactly one"),
        ({"tools": {"db": {"connections": {"w": {"dsn_env": "X", "max_rows": 0}}}}},
         "tools.db.connections.w.max_rows", "greater than or equal to 1"),
        ({"tools": {"db": {"default_connection": "x", "connections": {"w": {"dsn_env": "X"}}}}},
         "tools.db", "default_connection 'x'"),
        ({"tools": {"dbb": {}}}, "tools.dbb", "Extra inputs"),
        ({"max_parallel_calls": 100}, "max_parallel_calls", "less than or equal to 32"),
    ],
)  # fmt: skip
def test_invalid_policy_names_file_field_and_reason(
    tmp_path: Path, data: object, field: str, reason: str
) -> None:
    path = _write(tmp_path, data)
    with pytest.raises(PolicyFileError) as caught:
        load_policy(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert f"field {field}" in message and reason in message


def test_relative_paths_are_taken_from_the_policy_folder(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        {
            "tools": {
                "file": {"enabled": True, "roots": ["exports"]},
                "db": {"enabled": True, "connections": {"w": {"dsn": "sqlite:///wms.sqlite"}}},
            }
        },
    )
    policy = load_policy(path)
    assert policy.tools.file.roots == [tmp_path / "exports"]
    assert policy.tools.db.connections["w"].dsn == f"sqlite:///{tmp_path.resolve()}/wms.sqlite"
    assert policy.audit_path == tmp_path / ".phi-agent" / "audit.jsonl"
    assert policy.enabled_tools() == ["db", "file"]


def test_unreadable_or_broken_files(tmp_path: Path) -> None:
    with pytest.raises(PolicyFileError, match="cannot read"):
        load_policy(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("tools: [unclosed")
    with pytest.raises(PolicyFileError, match="not valid YAML"):
        load_policy(bad)

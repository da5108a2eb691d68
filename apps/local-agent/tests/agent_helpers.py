"""Small factories shared by the local agent's tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from phi_agent.audit import AuditLog
from phi_agent.policy import Policy, load_policy

REPORT_DAY = {"day_start": "2026-11-24T00:00:00", "day_end": "2026-11-25T00:00:00"}


def write_policy(directory: Path, **tools: Any) -> Path:
    data: dict[str, Any] = {"policy_version": 1, "state_dir": "state", "tools": tools}
    path = directory / "policy.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def db_policy(directory: Path, connection: dict[str, Any], **extra: Any) -> Policy:
    path = write_policy(
        directory,
        db={"enabled": True, "connections": {"warehouse": connection}, **extra},
    )
    return load_policy(path)


def audit(policy: Policy) -> AuditLog:
    return AuditLog(policy.audit_path)


def agent_config(orchestrator_url: str = "http://127.0.0.1:9/", **overrides: Any) -> dict[str, Any]:
    """A config as core-api exports it (phi_agent_config's model)."""
    import uuid

    config: dict[str, Any] = {
        "agent_id": str(uuid.uuid4()),
        "org_id": str(uuid.uuid4()),
        "name": "Warehouse Analyst",
        "industry": "logistics",
        "role": "warehouse_analyst",
        "llm": {"model": "builtin"},
        "tools": [{"key": "db", "required_settings": []}],
        "memory": {"org_namespace": "org", "agent_namespace": "agent"},
        "workflows": [{"type": "DAILY_WAREHOUSE_REPORT", "schedule": "0 6 * * *"}],
        "orchestrator_url": orchestrator_url,
    }
    config.update(overrides)
    return config


def fake_key() -> str:
    import secrets

    return f"phia_{secrets.token_hex(16)}_{'A' * 43}"

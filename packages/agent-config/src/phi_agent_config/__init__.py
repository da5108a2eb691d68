"""The schema of a Phi local agent's config file, and reading and writing it.

core-api exports the file with :func:`dump_yaml`/:func:`dump_json`; the local agent reads
it back with :func:`load_config`, which validates it against the same model. Secrets never
appear in the file: tools name the environment variables the customer sets locally.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from phi_agent_config.cron import check_cron
from phi_agent_config.model import (
    CONFIG_VERSION,
    AgentConfig,
    LLMSettings,
    MemoryConfig,
    ToolConfig,
    WorkflowConfig,
)
from phi_agent_config.workflows import (
    SCHEDULABLE_WORKFLOW_TYPES,
    WORKFLOW_TYPES,
    check_workflow_schedules,
    schedule_problem,
)


class ConfigFileError(ValueError):
    """The file cannot be read or does not validate; the message names the field."""


def _format(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}" for err in exc.errors()
    )


def parse_config(data: str | bytes | dict[str, Any]) -> AgentConfig:
    """Validate a config given as YAML/JSON text or as an already-parsed mapping."""
    if not isinstance(data, dict):
        try:
            data = yaml.safe_load(data)
        except yaml.YAMLError as exc:
            raise ConfigFileError(f"not valid YAML or JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigFileError("the config must be a mapping of fields (agent_id, org_id, ...)")
    try:
        return AgentConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigFileError(f"invalid agent config: {_format(exc)}") from exc


def load_config(path: str | Path) -> AgentConfig:
    """Read and validate the config file at ``path`` (YAML or JSON)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        return parse_config(text)
    except ConfigFileError as exc:
        raise ConfigFileError(f"{path}: {exc}") from exc


def to_document(config: AgentConfig) -> dict[str, Any]:
    """The config as plain JSON-compatible data, with unset optional fields left out."""
    return config.model_dump(mode="json", exclude_none=True)


def dump_yaml(config: AgentConfig) -> str:
    return yaml.safe_dump(to_document(config), sort_keys=False, allow_unicode=True)


def dump_json(config: AgentConfig) -> str:
    return json.dumps(to_document(config), indent=2, ensure_ascii=False) + "\n"


__all__ = [
    "CONFIG_VERSION",
    "SCHEDULABLE_WORKFLOW_TYPES",
    "WORKFLOW_TYPES",
    "AgentConfig",
    "ConfigFileError",
    "LLMSettings",
    "MemoryConfig",
    "ToolConfig",
    "WorkflowConfig",
    "check_cron",
    "check_workflow_schedules",
    "dump_json",
    "dump_yaml",
    "load_config",
    "parse_config",
    "schedule_problem",
]

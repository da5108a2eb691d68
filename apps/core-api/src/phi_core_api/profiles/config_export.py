"""The local agent's config file, exported from an agent's stored profile and tools."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from phi_agent_config import AgentConfig, ConfigFileError, parse_config
from phi_core_api.settings import CoreApiSettings
from phi_llm import LLMError
from phi_platform.db.models import Agent, AgentTool, Industry, RoleTemplate, Tool
from phi_service.errors import Conflict


def _tool_entry(tool: Tool, config: dict[str, Any], rules: list[str]) -> dict[str, Any]:
    """Settings of a tool for the local agent; ``*_env`` fields name what the customer sets.

    Only settings the tool's current schema still has are exported: an agent saved when the
    db tool still asked for a host and a password variable keeps them stored, but the
    local agent never read them (its policy.yaml decides), so the file does not carry them."""
    known = (tool.config_schema or {}).get("properties")
    if isinstance(known, dict):
        config = {k: v for k, v in config.items() if k in known}
    required = []
    settings: dict[str, Any] = {}
    for key, value in config.items():
        if key.endswith("_env") and isinstance(value, str) and value:
            required.append(value)
            settings[key] = f"env:{value}"
        else:
            settings[key] = value
    return {
        "key": tool.key,
        "name": tool.name,
        "required_settings": sorted(set(required)),
        "settings": settings,
        "usage_rules": rules,
    }


def _llm_model(heavy_class: str = "heavy") -> str:
    from phi_llm.config import config_from_env

    try:
        return config_from_env().routes[heavy_class][0].model
    except LLMError:
        return "builtin"


async def export_config(
    session: AsyncSession, agent: Agent, settings: CoreApiSettings
) -> AgentConfig:
    """The local agent's config file for ``agent``, validated by the shared schema."""
    industry = await session.get(Industry, agent.industry_id) if agent.industry_id else None
    role = (
        await session.get(RoleTemplate, agent.role_template_id) if agent.role_template_id else None
    )
    config = agent.config or {}
    rules: dict[str, list[str]] = {}
    for rule in config.get("tool_usage_rules") or []:
        if isinstance(rule, dict) and isinstance(rule.get("tool"), str) and rule.get("rule"):
            rules.setdefault(rule["tool"], []).append(str(rule["rule"]))
    tool_rows = await session.execute(
        select(Tool, AgentTool.config)
        .join(AgentTool, AgentTool.tool_id == Tool.id)
        .where(AgentTool.agent_id == agent.id)
        .order_by(Tool.key)
    )
    llm: dict[str, Any] = config["llm"] if isinstance(config.get("llm"), dict) else {}
    document = {
        "agent_id": str(agent.id),
        "org_id": str(agent.org_id),
        "name": agent.name,
        "industry": industry.key if industry else "general",
        "role": role.key if role else "custom",
        "llm": {"model": _llm_model(), "task_class": "heavy", "temperature": 0.2, **llm},
        "tools": [_tool_entry(t, c or {}, rules.get(t.key, [])) for t, c in tool_rows],
        "memory": {"org_namespace": f"org_{agent.org_id}", "agent_namespace": f"agent_{agent.id}"},
        "workflows": [
            {k: w.get(k) for k in ("type", "schedule", "description") if w.get(k) is not None}
            for w in config.get("workflows") or []
            if isinstance(w, dict)
        ],
        "orchestrator_url": settings.orchestrator_url,
    }
    try:
        return parse_config(document)
    except ConfigFileError as exc:
        # Stored settings (edited by hand through PATCH) that the local agent would refuse.
        raise Conflict(f"the agent's stored settings cannot be exported: {exc}") from exc

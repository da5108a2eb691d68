"""Whether this deployment can run agent tasks: the router's class ``heavy`` must reach a
model that calls tools. The builtin provider has no reasoning to choose a tool with, so with
nothing else routed ``run-task`` refuses AGENT_TASK (409) naming the setting, rather than
start a task that could only fail or pretend."""

from __future__ import annotations

import os
from typing import Any

from phi_llm.errors import ConfigError, LLMError

TASK_CLASS = "heavy"
HOW = (
    "route the model class 'heavy' to a model that calls tools: set PHI_LLM_ROUTES (e.g. "
    "heavy=openai:gpt-4o with OPENAI_API_KEY, or heavy=openai:<model> with "
    "PHI_OPENAI_BASE_URL for an OpenAI-compatible server such as llama.cpp or vLLM), or "
    "PHI_LLM_CONFIG, for the orchestrator and its workers (or for the router service named "
    "by PHI_LLM_ROUTER_URL)"
)


async def tool_calling_problem(settings: Any) -> str | None:
    """Why agent tasks cannot run here, or None when they can."""
    if settings.llm_router_url:
        from phi_llm.client import RouterClient
        from phi_platform.settings import read_or_create_secret

        token = settings.llm_router_token or read_or_create_secret(
            settings.secrets_dir / "llm_router_token"
        )
        client = RouterClient(settings.llm_router_url, token, timeout=10)
        try:
            if await client.supports_tools(TASK_CLASS):
                return None
            return f"the router service routes '{TASK_CLASS}' to no tool-calling model; {HOW}"
        except LLMError as exc:
            return f"the router service cannot be asked about its models ({exc})"
        finally:
            await client.aclose()
    from phi_llm.config import config_from_env

    env = dict(os.environ)
    for name, value in (
        ("PHI_LLM_ROUTES", settings.llm_routes),
        ("PHI_LLM_CONFIG", settings.llm_config),
        ("PHI_OPENAI_BASE_URL", settings.openai_base_url),
    ):
        if value:
            env[name] = value
    try:
        config = config_from_env(env)
    except ConfigError as exc:
        return f"the model routing configuration is invalid ({exc}); {HOW}"
    entries = config.routes.get(TASK_CLASS, [])
    if any(config.providers[e.provider].kind != "builtin" for e in entries):
        return None
    return f"no model is configured: '{TASK_CLASS}' routes only to the builtin provider; {HOW}"

"""The config file of a local agent: one pydantic model, shared by core-api and the agent."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    JsonValue,
    field_validator,
    model_validator,
)

from phi_agent_config.cron import check_cron
from phi_agent_config.secret_checks import (
    ENV_NAME,
    ENV_REFERENCE,
    SECRET_NAME,
    looks_like_random_key,
    secret_reason,
)

CONFIG_VERSION: Literal[1] = 1

CronSchedule = Annotated[str, AfterValidator(check_cron)]


def _env_name(value: str) -> str:
    if not ENV_NAME.match(value):
        raise ValueError(f"'{value}' is not an environment variable name (A-Z, 0-9, _)")
    return value


EnvVarName = Annotated[str, AfterValidator(_env_name)]


class _Strict(BaseModel):
    # Unknown keys are refused so that a typo in a hand-edited file is caught, not ignored.
    model_config = ConfigDict(extra="forbid")


class LLMSettings(_Strict):
    """How the agent's work is sent to a model: a router task class or a model name."""

    model: str = Field(min_length=1, max_length=200)
    task_class: str = Field(default="heavy", min_length=1, max_length=100)
    temperature: float = Field(default=0.2, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=131072)


class ToolConfig(_Strict):
    """A tool the agent may use, with what the customer must provide on their machine.

    ``required_settings`` are names of environment variables that the customer sets
    locally (a database DSN, a mail password...). ``settings`` holds non-secret options; a
    setting whose name suggests a secret must be an env reference such as ``env:DB_DSN``.
    """

    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    name: str | None = Field(default=None, max_length=200)
    required_settings: list[EnvVarName] = Field(default_factory=list)
    settings: dict[str, JsonValue] = Field(default_factory=dict)
    usage_rules: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _no_secret_settings(self) -> ToolConfig:
        for name, value in self.settings.items():
            values = value if isinstance(value, list) else [value]
            for item in values:
                if not isinstance(item, str) or ENV_REFERENCE.match(item):
                    continue
                if SECRET_NAME.search(name):
                    raise ValueError(
                        f"tool '{self.key}' setting '{name}' looks secret: give the name of an "
                        f"environment variable instead (e.g. 'env:{name.upper()}') and list it in "
                        "required_settings"
                    )
                if looks_like_random_key(item):
                    raise ValueError(
                        f"tool '{self.key}' setting '{name}' looks like a key or token; "
                        "secrets are referenced by environment variable name only"
                    )
        return self


class MemoryConfig(_Strict):
    org_namespace: str = Field(pattern=r"^[A-Za-z0-9_:-]{1,200}$")
    agent_namespace: str = Field(pattern=r"^[A-Za-z0-9_:-]{1,200}$")


class WorkflowConfig(_Strict):
    type: str = Field(pattern=r"^[A-Z][A-Z0-9_]{0,99}$")
    schedule: CronSchedule | None = None
    description: str | None = Field(default=None, max_length=2000)
    enabled: bool = True
    # What a scheduled run is started with (an AGENT_TASK's instruction and context).
    input: dict[str, Any] | None = None


class AgentConfig(_Strict):
    """The whole file. ``orchestrator_url`` is where the agent polls for work."""

    config_version: Literal[1] = CONFIG_VERSION
    agent_id: uuid.UUID
    org_id: uuid.UUID
    name: str = Field(min_length=1, max_length=200)
    industry: str = Field(min_length=1, max_length=100)
    role: str = Field(min_length=1, max_length=100)
    llm: LLMSettings
    tools: list[ToolConfig] = Field(default_factory=list)
    memory: MemoryConfig
    workflows: list[WorkflowConfig] = Field(default_factory=list)
    orchestrator_url: HttpUrl
    core_api_url: HttpUrl | None = None

    @field_validator("tools")
    @classmethod
    def _unique_tools(cls, tools: list[ToolConfig]) -> list[ToolConfig]:
        keys = [t.key for t in tools]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError(f"tool(s) listed twice: {', '.join(duplicates)}")
        return tools

    @model_validator(mode="after")
    def _no_secret_anywhere(self) -> AgentConfig:
        for path, value in _strings(self.model_dump(mode="json")):
            reason = secret_reason(value)
            if reason:
                raise ValueError(
                    f"{path} {reason}; a config file must not hold secrets: reference them by "
                    "environment variable name (required_settings)"
                )
        return self


def _strings(node: Any, path: str = "") -> list[tuple[str, str]]:
    if isinstance(node, str):
        return [(path or "(root)", node)]
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in _strings(v, f"{path}.{k}" if path else str(k))]
    if isinstance(node, list):
        return [s for i, v in enumerate(node) for s in _strings(v, f"{path}[{i}]")]
    return []

"""Routing configuration: which providers exist and which ones serve each task class.

Configured in one place. Either a YAML file named by ``PHI_LLM_CONFIG``::

    providers:
      openai: {kind: openai, base_url: "http://127.0.0.1:8080/v1", api_key_env: OPENAI_API_KEY}
      builtin: {kind: builtin}
    routes:
      heavy: [{provider: openai, model: gpt-4o, timeout: 90}, {provider: builtin, model: builtin}]
      light: [{provider: builtin, model: builtin}]
    timeout: 30
    retries: 2

or, for the common cases, environment variables only: ``PHI_LLM_ROUTES`` as
``heavy=openai:gpt-4o,builtin;light=llamacpp:smollm2,builtin`` plus the provider settings
(``OPENAI_API_KEY``, ``PHI_OPENAI_BASE_URL``, ``PHI_LLAMACPP_MODEL_PATH``). With nothing set,
every class routes to ``builtin``; with an OpenAI key or base URL set, ``heavy`` and ``light``
go to OpenAI first and fall back to ``builtin``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from phi_llm.errors import ConfigError

PROVIDER_KINDS = ("openai", "llamacpp", "builtin")
BASE_TASK_CLASSES = ("default", "light", "heavy")
DEFAULT_OPENAI_HEAVY_MODEL = "gpt-4o"
DEFAULT_OPENAI_LIGHT_MODEL = "gpt-4o-mini"


class ProviderConfig(BaseModel):
    """Settings of one provider instance. Keys are referenced by env var name, never inline."""

    kind: Literal["openai", "llamacpp", "builtin"]
    base_url: str | None = None
    api_key_env: str | None = "OPENAI_API_KEY"
    # "json_schema" is the OpenAI form; some servers only understand "json_object" + schema.
    structured_output: Literal["json_schema", "json_object"] = "json_schema"
    # openai kind: stream answers, so the router can cut one at its output cap even when the
    # server ignores max_tokens. false: whole answers; one past the cap is refused (charged).
    stream: bool = True
    model_path: str | None = None
    # llamacpp kind: llama-cpp-python's chat format ("chatml-function-calling" for tools);
    # None: the one the GGUF declares.
    chat_format: str | None = None
    n_ctx: int = 4096
    n_threads: int | None = None

    def api_key(self, env: Mapping[str, str]) -> str | None:
        return env.get(self.api_key_env) if self.api_key_env else None


class RouteEntry(BaseModel):
    provider: str
    model: str
    timeout: float | None = Field(default=None, gt=0)
    # Price in USD per million tokens, overriding the built-in table (see pricing.py).
    price_in_per_mtok: float | None = Field(default=None, ge=0)
    price_out_per_mtok: float | None = Field(default=None, ge=0)

    @property
    def label(self) -> str:
        return f"{self.provider}/{self.model}"


class RouterConfig(BaseModel):
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    routes: dict[str, list[RouteEntry]] = Field(default_factory=dict)
    timeout: float = Field(default=30.0, gt=0)
    retries: int = Field(default=2, ge=0, le=10)
    backoff: float = Field(default=0.5, ge=0)
    backoff_max: float = Field(default=8.0, ge=0)
    # Output tokens reserved against the budget for a call that sets no max_tokens.
    reserve_output_tokens: int = Field(default=1024, ge=1)

    @model_validator(mode="after")
    def _complete(self) -> RouterConfig:
        self.providers.setdefault("builtin", ProviderConfig(kind="builtin"))
        builtin_only = [RouteEntry(provider="builtin", model="builtin")]
        for task_class in BASE_TASK_CLASSES:
            self.routes.setdefault(task_class, list(builtin_only))
        for task_class, entries in self.routes.items():
            if not entries:
                raise ValueError(f"route '{task_class}' lists no provider")
            for entry in entries:
                if entry.provider not in self.providers:
                    raise ValueError(
                        f"route '{task_class}' names provider '{entry.provider}', which is not "
                        f"defined (defined: {', '.join(sorted(self.providers))})"
                    )
        return self

    def metered(self, task_class: str) -> bool:
        """Whether ``task_class`` (or a ``provider/model`` name) can reach a language model,
        whose tokens count against an organization's budget; builtin-only routes cost none."""
        entries = self.routes.get(task_class)
        if entries is None:
            provider, _, _ = task_class.partition("/")
            config = self.providers.get(provider)
            return config is None or config.kind != "builtin"
        return any(self.providers[e.provider].kind != "builtin" for e in entries)


def parse_routes(spec: str) -> dict[str, list[dict[str, str]]]:
    """Parse ``class=provider:model,provider:model;class=...`` (model optional for builtin)."""
    routes: dict[str, list[dict[str, str]]] = {}
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        task_class, sep, entries = part.partition("=")
        if not sep or not task_class.strip():
            raise ConfigError(f"PHI_LLM_ROUTES: '{part}' is not of the form class=provider:model")
        parsed = []
        for item in filter(None, (e.strip() for e in entries.split(","))):
            provider, _, model = item.partition(":")
            if not model:
                if provider != "builtin":
                    raise ConfigError(f"PHI_LLM_ROUTES: '{item}' needs a model (provider:model)")
                model = "builtin"
            parsed.append({"provider": provider.strip(), "model": model.strip()})
        routes[task_class.strip()] = parsed
    return routes


def _env_providers(env: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    providers: dict[str, dict[str, Any]] = {"builtin": {"kind": "builtin"}}
    if env.get("OPENAI_API_KEY") or env.get("PHI_OPENAI_BASE_URL"):
        providers["openai"] = {"kind": "openai", "base_url": env.get("PHI_OPENAI_BASE_URL")}
    if env.get("PHI_LLAMACPP_MODEL_PATH"):
        providers["llamacpp"] = {"kind": "llamacpp", "model_path": env["PHI_LLAMACPP_MODEL_PATH"]}
    return providers


def config_from_env(env: Mapping[str, str] | None = None) -> RouterConfig:
    """Build the configuration from ``PHI_LLM_CONFIG`` or the environment variables above."""
    env = os.environ if env is None else env
    try:
        if env.get("PHI_LLM_CONFIG"):
            path = Path(env["PHI_LLM_CONFIG"])
            try:
                raw = yaml.safe_load(path.read_text()) or {}
            except (OSError, yaml.YAMLError) as exc:
                raise ConfigError(f"PHI_LLM_CONFIG: cannot read {path}: {exc}") from exc
            if not isinstance(raw, dict):
                raise ConfigError(f"PHI_LLM_CONFIG: {path} must hold a mapping")
            return RouterConfig.model_validate(raw)

        providers = _env_providers(env)
        routes: dict[str, list[dict[str, str]]] = {}
        if "openai" in providers:
            heavy = env.get("PHI_OPENAI_MODEL", DEFAULT_OPENAI_HEAVY_MODEL)
            light = env.get("PHI_OPENAI_LIGHT_MODEL", DEFAULT_OPENAI_LIGHT_MODEL)
            routes["heavy"] = [{"provider": "openai", "model": heavy}]
            routes["light"] = [{"provider": "openai", "model": light}]
        if "llamacpp" in providers:
            local = {
                "provider": "llamacpp",
                "model": Path(providers["llamacpp"]["model_path"]).stem,
            }
            routes["light"] = [local, *routes.get("light", [])]
        for entries in routes.values():
            entries.append({"provider": "builtin", "model": "builtin"})
        if env.get("PHI_LLM_ROUTES"):
            routes.update(parse_routes(env["PHI_LLM_ROUTES"]))
            # A route may name a provider kind that has no settings of its own yet.
            for entries in routes.values():
                for entry in entries:
                    if entry["provider"] in PROVIDER_KINDS and entry["provider"] not in providers:
                        providers[entry["provider"]] = {"kind": entry["provider"]}
        settings: dict[str, Any] = {"providers": providers, "routes": routes}
        for key, name in (
            ("timeout", "PHI_LLM_TIMEOUT"),
            ("retries", "PHI_LLM_RETRIES"),
            ("reserve_output_tokens", "PHI_LLM_RESERVE_OUTPUT_TOKENS"),
        ):
            if env.get(name):
                settings[key] = env[name]
        return RouterConfig.model_validate(settings)
    except ValidationError as exc:
        raise ConfigError(f"invalid LLM routing configuration: {exc}") from exc

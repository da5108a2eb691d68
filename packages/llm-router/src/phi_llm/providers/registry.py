"""Provider kinds by name: adding a kind is adding a module that registers its class."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping

from phi_llm.config import ProviderConfig
from phi_llm.errors import ConfigError
from phi_llm.providers.base import Provider

_KINDS: dict[str, type[Provider]] = {}
# Kinds whose module is imported only when a provider of that kind is made: the OpenAI SDK
# alone is 22 MB of every process that imports it, and most stacks never configure it.
_LAZY: dict[str, str] = {"openai": "phi_llm.providers.openai_compat"}


def register(kind: str) -> Callable[[type[Provider]], type[Provider]]:
    """Class decorator that makes a provider class available under ``kind``."""

    def wrap(cls: type[Provider]) -> type[Provider]:
        cls.kind = kind
        _KINDS[kind] = cls
        return cls

    return wrap


def provider_kinds() -> list[str]:
    return sorted({*_KINDS, *_LAZY})


def create_provider(name: str, config: ProviderConfig, env: Mapping[str, str]) -> Provider:
    """Instantiate the provider ``name`` of kind ``config.kind``."""
    if config.kind not in _KINDS and config.kind in _LAZY:
        importlib.import_module(_LAZY[config.kind])  # registers the kind
    try:
        cls = _KINDS[config.kind]
    except KeyError:
        raise ConfigError(
            f"provider '{name}' has unknown kind '{config.kind}' "
            f"(known: {', '.join(provider_kinds())})"
        ) from None
    return cls(name, config, env)

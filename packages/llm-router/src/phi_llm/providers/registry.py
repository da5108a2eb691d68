"""Provider kinds by name: adding a kind is adding a module that registers its class."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from phi_llm.config import ProviderConfig
from phi_llm.errors import ConfigError
from phi_llm.providers.base import Provider

_KINDS: dict[str, type[Provider]] = {}


def register(kind: str) -> Callable[[type[Provider]], type[Provider]]:
    """Class decorator that makes a provider class available under ``kind``."""

    def wrap(cls: type[Provider]) -> type[Provider]:
        cls.kind = kind
        _KINDS[kind] = cls
        return cls

    return wrap


def provider_kinds() -> list[str]:
    return sorted(_KINDS)


def create_provider(name: str, config: ProviderConfig, env: Mapping[str, str]) -> Provider:
    """Instantiate the provider ``name`` of kind ``config.kind``."""
    try:
        cls = _KINDS[config.kind]
    except KeyError:
        raise ConfigError(
            f"provider '{name}' has unknown kind '{config.kind}' "
            f"(known: {', '.join(provider_kinds())})"
        ) from None
    return cls(name, config, env)

"""Provider implementations; importing this package registers every built-in kind (the
``openai`` kind when a provider of it is first made: see ``registry._LAZY``)."""

from phi_llm.providers import builtin, llamacpp  # noqa: F401  (registration)
from phi_llm.providers.base import Provider
from phi_llm.providers.registry import create_provider, provider_kinds, register

__all__ = ["Provider", "create_provider", "provider_kinds", "register"]

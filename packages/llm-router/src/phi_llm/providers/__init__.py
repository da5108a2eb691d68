"""Provider implementations; importing this package registers every built-in kind."""

from phi_llm.providers import builtin, llamacpp, openai_compat  # noqa: F401  (registration)
from phi_llm.providers.base import Provider
from phi_llm.providers.registry import create_provider, provider_kinds, register

__all__ = ["Provider", "create_provider", "provider_kinds", "register"]

"""Phi Agents LLM router: providers, routing by task class, accounting.

Use in-process::

    router = Router()  # configured from the environment; see phi_llm.config
    result = await router.chat(messages, task_class="heavy", json_schema=schema)

or through the router service (``apps/llm-router``, ``phi_llm_router``) with
:class:`phi_llm.client.RouterClient`.
"""

from phi_llm.accounting import (
    Accountant,
    InMemoryAccountant,
    NullAccountant,
    PostgresAccountant,
)
from phi_llm.config import RouteEntry, RouterConfig, config_from_env
from phi_llm.errors import (
    AllProvidersFailed,
    BudgetExceeded,
    BudgetStopped,
    BuiltinCannotAnswer,
    ConfigError,
    LLMError,
    ProviderError,
    ResponseOvershoot,
    UnknownOrganization,
    UnknownTaskClass,
)
from phi_llm.providers.builtin import register_composer
from phi_llm.router import Router
from phi_llm.types import (
    BUILTIN_LABEL,
    CallContext,
    ChatResult,
    EmbedResult,
    LLMRouter,
    Message,
)

__all__ = [
    "BUILTIN_LABEL",
    "Accountant",
    "AllProvidersFailed",
    "BudgetExceeded",
    "BudgetStopped",
    "BuiltinCannotAnswer",
    "CallContext",
    "ChatResult",
    "ConfigError",
    "EmbedResult",
    "InMemoryAccountant",
    "LLMError",
    "LLMRouter",
    "Message",
    "NullAccountant",
    "PostgresAccountant",
    "ProviderError",
    "ResponseOvershoot",
    "RouteEntry",
    "Router",
    "RouterConfig",
    "UnknownOrganization",
    "UnknownTaskClass",
    "config_from_env",
    "register_composer",
]

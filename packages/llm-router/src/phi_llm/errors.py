"""Errors raised by the router, each carrying what a service needs to answer with a 4xx/5xx."""

from __future__ import annotations

from dataclasses import dataclass, field

# Failure kinds a provider can report. Retried on the same provider: rate_limited and
# server_error (with backoff). Anything else falls through to the next route entry at once.
RETRYABLE_KINDS = frozenset({"rate_limited", "server_error"})
UNAVAILABLE_KINDS = frozenset({"timeout", "unavailable", "rate_limited"})


class LLMError(Exception):
    """Base class of every error raised by :mod:`phi_llm`."""


@dataclass
class ProviderError(LLMError):
    """One provider call failed.

    ``kind`` is one of ``timeout``, ``unavailable`` (connection refused, not installed),
    ``rate_limited`` (HTTP 429), ``server_error`` (HTTP 5xx), ``bad_response`` (garbage or
    output that does not match the requested schema), ``bad_request`` (other 4xx) and
    ``cannot_answer`` (the builtin provider has no facts for a requested field).
    """

    provider: str
    model: str
    kind: str
    message: str
    status: int | None = None
    retry_after: float | None = None

    def __post_init__(self) -> None:
        super().__init__(str(self))

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE_KINDS

    def __str__(self) -> str:
        status = f" (HTTP {self.status})" if self.status else ""
        return (
            f"provider '{self.provider}' model '{self.model}': {self.kind}{status}: {self.message}"
        )


class BuiltinCannotAnswer(ProviderError):
    """The builtin provider cannot answer a structured request from the facts it was given
    (a field with no fact behind it); it refuses rather than make a value up. The router
    treats it like any provider failure: the next route entry, or the call fails naming it."""

    def __init__(self, provider: str, model: str, message: str) -> None:
        super().__init__(provider, model, "cannot_answer", message)


@dataclass
class AllProvidersFailed(LLMError):
    """Every entry of a task class's route failed; ``attempts`` holds the last error of each."""

    task_class: str
    attempts: list[ProviderError] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(str(self))

    @property
    def http_status(self) -> int:
        """503 when every provider was unreachable, slow or rate limited; 502 otherwise."""
        if self.attempts and all(a.kind in UNAVAILABLE_KINDS for a in self.attempts):
            return 503
        return 502

    @property
    def providers(self) -> list[str]:
        return [a.provider for a in self.attempts]

    def __str__(self) -> str:
        detail = "; ".join(str(a) for a in self.attempts) or "no provider configured"
        return f"no provider of task class '{self.task_class}' succeeded: {detail}"


@dataclass
class BudgetExceeded(LLMError):
    """The call would take the organization past its monthly token budget; services answer
    429. ``used`` counts settled and reserved tokens; ``needed`` is the call's estimate."""

    org_id: str
    budget: int
    used: int
    needed: int = 0

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        needed = f" and this call needs up to {self.needed}" if self.needed else ""
        return (
            f"monthly token budget of {self.budget} tokens for organization {self.org_id} is "
            f"used up ({self.used} tokens used or reserved this month{needed}); raise "
            "monthly_token_budget or wait for next month"
        )


@dataclass
class BudgetStopped(BudgetExceeded):
    """The organization's model calls are stopped for the month: a response went past what
    was reserved for it and took the month's usage to the budget. Calls stay refused (429)
    until the budget is raised above ``stopped_at_budget``, whatever they would cost."""

    stopped_at_budget: int = 0

    def __str__(self) -> str:
        return (
            f"model calls of organization {self.org_id} are stopped for this month: its usage "
            f"({self.used} tokens) reached the budget of {self.stopped_at_budget} tokens; raise "
            f"monthly_token_budget above {self.stopped_at_budget} or wait for next month"
        )


@dataclass
class ResponseOvershoot(AllProvidersFailed):
    """A provider answered with more output tokens than the call allowed (its ``max_tokens``,
    or the router's reserve when it set none). The answer is refused (services answer 502,
    code ``overshoot``) but its tokens are charged: the provider bills them. Not retried or
    sent to the next route entry, which could overshoot again at the organization's cost."""

    provider: str = ""
    model: str = ""
    allowed: int = 0
    tokens_in: int = 0
    tokens_out: int = 0

    @property
    def http_status(self) -> int:
        return 502

    def __str__(self) -> str:
        return (
            f"provider '{self.provider}' model '{self.model}' answered {self.tokens_out} output "
            f"tokens where {self.allowed} were allowed; the answer is refused and its tokens "
            "are charged (the provider does not honour max_tokens: enable streaming for it, or "
            "route this task class elsewhere)"
        )


class UnknownOrganization(LLMError):
    """A metered call names an organization that does not exist: no budget can hold it, so it
    is refused (services answer 403) rather than run unmetered."""


class UnknownTaskClass(LLMError):
    """A task class (or provider/model) that the routing configuration does not define."""


class ConfigError(LLMError):
    """The routing configuration (PHI_LLM_ROUTES / PHI_LLM_CONFIG) is invalid."""

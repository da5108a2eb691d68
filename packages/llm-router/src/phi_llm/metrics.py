"""Prometheus series of LLM and embedding calls, counted where every call is accounted
(``Router._record``), so they appear on ``/metrics`` of whichever process makes the calls."""

from __future__ import annotations

from prometheus_client import Counter

LLM_CALLS = Counter(
    "phi_llm_calls_total",
    "LLM and embedding calls, by operation, provider and outcome (ok, error, refused...)",
    ["operation", "provider", "outcome"],
)
LLM_TOKENS = Counter(
    "phi_llm_tokens_total",
    "Tokens of LLM calls, by provider and direction",
    ["provider", "direction"],
)
LLM_COST = Counter("phi_llm_cost_usd_total", "Cost of LLM calls in USD, by provider", ["provider"])
BUDGET_REFUSALS = Counter(
    "phi_llm_budget_refusals_total", "Calls refused because the organization's budget is spent"
)


def count_call(
    operation: str, provider: str, outcome: str, tokens_in: int, tokens_out: int, cost: float
) -> None:
    LLM_CALLS.labels(operation, provider, outcome).inc()
    if tokens_in:
        LLM_TOKENS.labels(provider, "in").inc(tokens_in)
    if tokens_out:
        LLM_TOKENS.labels(provider, "out").inc(tokens_out)
    if cost:
        LLM_COST.labels(provider).inc(cost)
    if outcome == "refused":
        BUDGET_REFUSALS.inc()

"""Estimated cost of a call, from list prices per million tokens.

The figures are estimates for budgeting dashboards, not invoices; a route entry can
override them (``price_in_per_mtok``/``price_out_per_mtok``). Local providers cost nothing.
"""

from __future__ import annotations

# (input, output) USD per million tokens, matched by model-name prefix, longest first.
OPENAI_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1": (2.00, 8.00),
    "text-embedding-3-small": (0.02, 0.0),
    "text-embedding-3-large": (0.13, 0.0),
}


def estimate_cost(
    provider_kind: str,
    model: str,
    tokens_in: int,
    tokens_out: int,
    price_in: float | None = None,
    price_out: float | None = None,
) -> float:
    """USD estimate for one call; 0 for local providers and unknown models without a price."""
    if price_in is None and price_out is None:
        if provider_kind != "openai":
            return 0.0
        for prefix in sorted(OPENAI_PRICES, key=len, reverse=True):
            if model.startswith(prefix):
                price_in, price_out = OPENAI_PRICES[prefix]
                break
        else:
            return 0.0
    return ((price_in or 0.0) * tokens_in + (price_out or 0.0) * tokens_out) / 1e6

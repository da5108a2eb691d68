"""Recognising values that look like secrets, so that none ends up in a config file."""

from __future__ import annotations

import math
import re
from collections import Counter

# Setting names whose value must be a reference to an environment variable, not the value.
SECRET_NAME = re.compile(
    r"pass(word|wd)?|secret|token|api[_-]?key|private[_-]?key|credential|dsn|auth[_-]?(key|token)",
    re.IGNORECASE,
)
ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]{1,127}$")
ENV_REFERENCE = re.compile(r"^(?:env:|\$\{?)([A-Z][A-Z0-9_]{1,127})\}?$")

SECRET_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("an OpenAI-style API key", re.compile(r"\bsk-(?:proj-)?[A-Za-z0-9_-]{16,}")),
    ("a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    (
        "a URL with a password",
        re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@", re.IGNORECASE),
    ),
    ("an AWS access key", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}")),
    ("a Slack token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}")),
    ("a JSON Web Token", re.compile(r"\beyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]{8,}")),
    ("a password assignment", re.compile(r"\b(?:password|passwd|pwd)\s*[=:]\s*\S+", re.IGNORECASE)),
)


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(c / len(text) * math.log2(c / len(text)) for c in counts.values())


def looks_like_random_key(text: str) -> bool:
    """A long unbroken run of mixed letters and digits with high entropy (API keys, tokens)."""
    if len(text) < 24 or any(ch.isspace() for ch in text):
        return False
    classes = sum(bool(re.search(p, text)) for p in (r"[a-z]", r"[A-Z]", r"\d"))
    return classes >= 3 and _entropy(text) > 4.0


def secret_reason(value: str) -> str | None:
    """Why ``value`` looks like a secret, or None."""
    for what, pattern in SECRET_PATTERNS:
        if pattern.search(value):
            return f"looks like {what}"
    return None

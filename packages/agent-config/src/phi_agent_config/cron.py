"""A strict check of five-field cron expressions, without a scheduling library."""

from __future__ import annotations

import re

MONTHS = {
    m: i
    for i, m in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"],
        start=1,
    )
}
DAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}
# (name, lowest, highest, names)
FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, MONTHS),
    ("day of week", 0, 7, DAYS),
)
MACROS = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
_ITEM = re.compile(r"^(\*|[A-Za-z0-9]+(?:-[A-Za-z0-9]+)?)(?:/(\d+))?$")


def _value(text: str, field: str, low: int, high: int, names: dict[str, int]) -> int:
    value = names.get(text.upper()) if not text.isdigit() else int(text)
    if value is None or not low <= value <= high:
        raise ValueError(f"{field} '{text}' is outside {low}-{high}")
    return value


def check_cron(expression: str) -> str:
    """Return ``expression`` unchanged if it is a valid cron schedule, else raise ValueError."""
    expr = expression.strip()
    if expr in MACROS:
        return expr
    parts = expr.split()
    if len(parts) != 5:
        raise ValueError(
            f"cron '{expression}' must have 5 fields (minute hour day month weekday), "
            f"has {len(parts)}"
        )
    for part, (field, low, high, names) in zip(parts, FIELDS, strict=True):
        for item in part.split(","):
            match = _ITEM.match(item)
            if not match:
                raise ValueError(f"cron '{expression}': {field} '{item}' is not valid")
            base, step = match.groups()
            if step is not None and int(step) == 0:
                raise ValueError(f"cron '{expression}': {field} step must be at least 1")
            if base != "*":
                bounds = [_value(b, field, low, high, names) for b in base.split("-")]
                if len(bounds) == 2 and bounds[0] > bounds[1]:
                    raise ValueError(f"cron '{expression}': {field} range '{base}' runs backwards")
    return expr

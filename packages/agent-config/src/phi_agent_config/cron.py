"""Cron schedules, checked with croniter: the library the orchestrator's scheduler runs them
with, so a schedule that passes here is one the scheduler can run."""

from __future__ import annotations

from datetime import UTC, datetime

from croniter import CroniterBadDateError, CroniterError, croniter

# Names that stand for a time; "@reboot" does not (nothing here restarts with the machine).
MACROS = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
# (field, what it takes), in the order of the five fields.
FIELDS = (
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day of month", "1-31"),
    ("month", "1-12 or JAN-DEC"),
    ("day of week", "0-7 or SUN-SAT"),
)
# Long enough for the rarest date five fields can name that exists (29 February).
YEARS_TO_LOOK_AHEAD = 9


def check_cron(expression: str) -> str:
    """Return ``expression`` stripped if it is a cron schedule that runs, else raise
    ValueError saying why: five fields (or a name such as ``@daily``), each within its range,
    naming a date that exists ("0 0 31 2 *" never comes)."""
    expr = expression.strip()
    if expr.startswith("@"):
        if expr.lower() not in MACROS:
            raise ValueError(
                f"cron '{expression}' is not a time the scheduler can run at; use five fields "
                f"(minute hour day month weekday) or one of {', '.join(sorted(MACROS))}"
            )
        return expr
    parts = expr.split()
    if len(parts) != len(FIELDS):
        raise ValueError(
            f"cron '{expression}' must have 5 fields (minute hour day month weekday), "
            f"has {len(parts)}"
        )
    for index, (part, (field, takes)) in enumerate(zip(parts, FIELDS, strict=True)):
        # Each field alone, the others left open, so the message can name the field.
        probe = ["*"] * len(FIELDS)
        probe[index] = part
        if not croniter.is_valid(" ".join(probe)):
            raise ValueError(
                f"cron '{expression}': {field} '{part}' is not valid (it takes {takes}, "
                "lists, ranges and steps such as */15)"
            )
    if not croniter.is_valid(expr):
        raise ValueError(f"cron '{expression}' is not a valid schedule")
    try:
        croniter(
            expr, datetime(2000, 1, 1, tzinfo=UTC), max_years_between_matches=YEARS_TO_LOOK_AHEAD
        ).get_next(datetime)
    except CroniterBadDateError:
        raise ValueError(
            f"cron '{expression}' never runs: the day of month it names does not exist in the "
            "month it names"
        ) from None
    except (CroniterError, ValueError, KeyError) as exc:
        raise ValueError(f"cron '{expression}' is not a valid schedule: {exc}") from None
    return expr

"""The recurring work a line of a JD or SOP states, as cron.

Recurring work is what a line says recurs: "every Monday", "every Wednesday and Friday at
10:00", "on the 5th of each month", "by the 3rd working day" of the month's close, "at 07:00
every day", "twice a day, at 11:00 and at 15:00", "Daily: …". An adjective alone ("daily and
weekly driving time") schedules nothing. Work runs at the time the line states, an hour
before a deadline it states, or inside the working hours the documents state; no day or time
is made up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

Period = Literal["DAILY", "WEEKLY", "MONTHLY"]
TIME = r"(\d{1,2})[:.](\d{2})"

WEEKDAYS = {
    "sunday": 0,
    "monday": 1,
    "tuesday": 2,
    "wednesday": 3,
    "thursday": 4,
    "friday": 5,
    "saturday": 6,
}
_DAY = r"(sunday|monday|tuesday|wednesday|thursday|friday|saturday)s?"
WEEKLY = re.compile(
    rf"\b(?:every|each|on)\s+{_DAY}\b|\bweekly\s+on\s+{_DAY}\b|\bevery\s+week\s+on\s+{_DAY}\b",
    re.I,
)
# "every Tuesday and Friday": the days a weekly phrase goes on to name.
MORE_DAYS = re.compile(rf"(?:\s*,\s*|\s+and\s+|\s+or\s+){_DAY}\b", re.I)
ORDINAL = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "last": None}
MONTHLY = re.compile(
    r"\b(?:on|by)\s+the\s+(\d{1,2})(?:st|nd|rd|th)?(?:\s+working)?(?:\s+day)?\s+of\s+"
    r"(?:each|every|the)\s+month\b|"
    r"\b(?:on|by)\s+the\s+(first|second|third|fourth|fifth)(?:\s+working)?(?:\s+day)?\s+of\s+"
    r"(?:each|every|the)\s+month\b",
    re.I,
)
MONTHLY_DAYS = re.compile(
    r"\bon\s+the\s+(\d{1,2})(?:st|nd|rd|th)?\s+and\s+(?:the\s+)?(\d{1,2})(?:st|nd|rd|th)?\s+"
    r"of\s+(?:each|every|the)\s+month\b",
    re.I,
)
DAILY = re.compile(
    r"\b(?:every|each)\s+(working\s+|business\s+|week)?(day|morning)\b|\bdaily\s+(?:at|by)\b",
    re.I,
)
# "by the 3rd working day" in a line about the month's close: a monthly deadline.
MONTHLY_WORKING_DAY = re.compile(
    r"\b(?:on|by)\s+the\s+(\d{1,2})(?:st|nd|rd|th)\s+(?:working|business)\s+day\b", re.I
)
# Daily work a line states without "every day": a "Daily:" label, "is set daily", "twice a
# day", or a daily deliverable with a time ("sends the daily sales summary by 10:00", "checks the
# daily plan at 08:00").
DAILY_MORE = re.compile(
    r"^\W*daily\s*:|\b(?:\w+ed|set|run|done|kept|held|sent|made)\s+daily\b|"
    r"\b(?:once|twice|\w+ times)\s+(?:a|per|each)\s+day\b|"
    r"\b(?:the|a|its|their|your)\s+daily\b(?=.*\b(?:by|at)\s+\d{1,2}[:.]\d{2}\b)",
    re.I,
)
AT_TIME = re.compile(r"\b(at|by|before)\s+" + TIME + r"\b", re.I)


@dataclass(frozen=True)
class WorkingHours:
    """Minutes after midnight; ``weekdays`` is a cron day-of-week field or None."""

    start: int
    end: int
    weekdays: str | None = None

    def contains(self, minute: int) -> bool:
        return self.start <= minute < self.end


@dataclass
class Schedule:
    """Recurring work a duty states, and the cron that runs it."""

    period: Period
    cron: str
    line: dict[str, Any]


def _minutes(hour: str, minute: str) -> int | None:
    h, m = int(hour), int(minute)
    return h * 60 + m if 0 <= h <= 23 and 0 <= m <= 59 else None


def _run_time(text: str, hours: WorkingHours | None) -> int:
    """When the work runs: at the time the duty names; an hour before a deadline it names
    (not before the working day starts); else an hour into the working day (09:00 when the
    documents state no hours)."""
    match = AT_TIME.search(text)
    stated = _minutes(match.group(2), match.group(3)) if match else None
    if match and stated is not None:
        if match.group(1).lower() == "at":
            return stated
        run = stated - 60
        if hours is not None and run < hours.start:
            run = hours.start if hours.start < stated else stated - 30
        return max(run, 0)
    if hours is None:
        return 9 * 60
    return min(hours.start + 60, hours.end - 30)


def schedules_of(duty: dict[str, Any], hours: WorkingHours | None) -> list[Schedule]:
    """The schedules a duty states, as cron: one a weekday it names ("every Monday … and on
    Tuesday at 10:00"), one a time of day it names for daily work ("twice a day, at 10:00 and
    at 16:00"); none when it states no recurrence."""
    text = duty["text"]
    weekly = _weekly(duty, hours)
    if weekly:
        # "downloads the cards every Monday and the analysis is reviewed daily": a line can
        # state daily work beside the weekly.
        return weekly + _daily(WEEKLY.sub(" ", text), duty, hours)
    minute = _run_time(text, hours)
    hm = f"{minute % 60} {minute // 60}"
    days = MONTHLY_DAYS.search(text)
    if days and all(1 <= int(d) <= 28 for d in days.groups()):
        return [Schedule("MONTHLY", f"{hm} {int(days.group(1))},{int(days.group(2))} * *", duty)]
    monthly = MONTHLY.search(text)
    if monthly:
        day_of_month = int(monthly.group(1)) if monthly.group(1) else ORDINAL[monthly.group(2)]
        if day_of_month is None or not 1 <= day_of_month <= 28:
            return []  # "the last day" or the 31st: not every month has it, cron cannot say
        return [Schedule("MONTHLY", f"{hm} {day_of_month} * *", duty)]
    working_day = MONTHLY_WORKING_DAY.search(text)
    if working_day and re.search(r"\bmonth", text, re.I) and 1 <= int(working_day.group(1)) <= 28:
        return [Schedule("MONTHLY", f"{hm} {int(working_day.group(1))} * *", duty)]
    return _daily(text, duty, hours)


def _daily(text: str, duty: dict[str, Any], hours: WorkingHours | None) -> list[Schedule]:
    """The daily schedules ``text`` (a duty or the part of it left to read) states."""
    daily = DAILY.search(text)
    if not (daily or DAILY_MORE.search(text)):
        return []
    minute = _run_time(text, hours)
    hm = f"{minute % 60} {minute // 60}"
    working = bool(daily and daily.group(1)) or (hours is not None and hours.weekdays == "1-5")
    dow = "1-5" if working else "*"
    times = [
        t
        for m in AT_TIME.finditer(text)
        if m.group(1).lower() == "at" and (t := _minutes(m.group(2), m.group(3))) is not None
    ]
    if len(times) > 1 and re.search(r"\b(?:twice|\w+ times)\b", text, re.I):
        return [Schedule("DAILY", f"{t % 60} {t // 60} * * {dow}", duty) for t in times]
    return [Schedule("DAILY", f"{hm} * * {dow}", duty)]


def _weekly(duty: dict[str, Any], hours: WorkingHours | None) -> list[Schedule]:
    """Weekly schedules: each weekday phrase at the time stated after it (before the next
    phrase), else at the duty's time."""
    text = duty["text"]
    found: list[tuple[int, int, int]] = []  # (weekday, start of the phrase, end of its days)
    for match in WEEKLY.finditer(text):
        day = next(g for g in match.groups() if g)
        days, end = [WEEKDAYS[day.lower()]], match.end()
        while (more := MORE_DAYS.match(text, end)) is not None:
            days.append(WEEKDAYS[more.group(1).lower()])
            end = more.end()
        found += [(d, match.start(), end) for d in days]
    out: list[Schedule] = []
    for i, (weekday, start, end) in enumerate(found):
        following = [s for _, s, _ in found[i + 1 :] if s > start]
        clause = text[end : following[0] if following else len(text)]
        own = clause if AT_TIME.search(clause) or len({s for _, s, _ in found}) > 1 else text
        minute = _run_time(own, hours)
        cron = f"{minute % 60} {minute // 60} * * {weekday}"
        if all(s.cron != cron for s in out):
            out.append(Schedule("WEEKLY", cron, duty))
    return out


def schedule_of(duty: dict[str, Any], hours: WorkingHours | None) -> Schedule | None:
    """The first schedule a duty states, or None."""
    found = schedules_of(duty, hours)
    return found[0] if found else None

"""Reading the audit log: filtered pages newest first with a keyset cursor, and exports that
stream any number of events in batches (memory stays that of one batch)."""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, select, true, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from phi_platform.db.models import AuditEvent
from phi_service.audit import ACTIONS, describe
from phi_service.errors import InvalidInput

EXPORT_BATCH = 1000
CSV_COLUMNS = (
    "occurred_at",
    "org_id",
    "actor_type",
    "actor_id",
    "actor_label",
    "action",
    "target_type",
    "target_id",
    "target_label",
    "summary",
    "details",
    "request_id",
    "client_address",
    "id",
)


@dataclass(frozen=True)
class AuditFilter:
    org_id: uuid.UUID | None = None  # None: every org (platform administrators)
    actor: str | None = None
    actor_type: str | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if self.since and self.until and self.since > self.until:
            raise InvalidInput("since is later than until")
        if self.org_id is not None:
            where.append(AuditEvent.org_id == self.org_id)
        if self.actor:
            where.append(_actor_condition(self.actor))
        if self.actor_type:
            where.append(AuditEvent.actor_type == self.actor_type)
        if self.action:
            where.append(_action_condition(self.action))
        if self.target_type:
            where.append(AuditEvent.target_type == self.target_type)
        if self.target_id:
            where.append(AuditEvent.target_id == self.target_id)
        if self.since:
            where.append(AuditEvent.occurred_at >= self.since)
        if self.until:
            where.append(AuditEvent.occurred_at < self.until)
        return where


def _actor_condition(actor: str) -> ColumnElement[bool]:
    """A user or local agent id, or (part of) an email or name, case-insensitive."""
    try:
        return AuditEvent.actor_id == uuid.UUID(actor)
    except ValueError:
        pattern = actor.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return AuditEvent.actor_label.ilike(f"%{pattern}%", escape="\\")


def _action_condition(action: str) -> ColumnElement[bool]:
    """An action (``member.invited``) or a family of them (``member``)."""
    if action in ACTIONS:
        return AuditEvent.action == action
    family = action.rstrip(".")
    if any(a.startswith(family + ".") for a in ACTIONS):
        return AuditEvent.action.startswith(family + ".", autoescape=True)
    families = sorted({a.split(".")[0] for a in ACTIONS})
    raise InvalidInput(
        f"unknown action {action!r}: use one of {', '.join(sorted(ACTIONS))} "
        f"or a family ({', '.join(families)})"
    )


def encode_cursor(occurred_at: datetime, event_id: int) -> str:
    raw = f"{occurred_at.isoformat()}|{event_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, _, event_id = raw.partition("|")
        return datetime.fromisoformat(when), int(event_id)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput(
            "invalid cursor: pass the next_cursor of the previous page unchanged"
        ) from exc


def _newest_first(where: list[ColumnElement[bool]]) -> Select[Any]:
    return (
        select(AuditEvent)
        .where(true(), *where)
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
    )


def _before(occurred_at: datetime, event_id: int) -> ColumnElement[bool]:
    return tuple_(AuditEvent.occurred_at, AuditEvent.id) < tuple_(occurred_at, event_id)


def event_out(e: AuditEvent) -> dict[str, Any]:
    row = {c: getattr(e, c) for c in CSV_COLUMNS if c != "summary"}
    return {
        "id": e.id,
        "org_id": e.org_id,
        "occurred_at": e.occurred_at,
        "actor": {"type": e.actor_type, "id": e.actor_id, "label": e.actor_label},
        "action": e.action,
        "target": {"type": e.target_type, "id": e.target_id, "label": e.target_label},
        "details": e.details,
        "request_id": e.request_id,
        "client_address": e.client_address,
        "summary": describe(row),
    }


async def page(
    session: AsyncSession, flt: AuditFilter, limit: int, cursor: str | None
) -> dict[str, Any]:
    where = flt.conditions()
    if cursor:
        where.append(_before(*decode_cursor(cursor)))
    events = list(await session.scalars(_newest_first(where).limit(limit + 1)))
    more = len(events) > limit
    events = events[:limit]
    last = events[-1] if events and more else None
    return {
        "items": [event_out(e) for e in events],
        "next_cursor": encode_cursor(last.occurred_at, last.id) if last else None,
    }


async def _batches(
    sessionmaker: async_sessionmaker[AsyncSession], flt: AuditFilter
) -> AsyncIterator[list[AuditEvent]]:
    """Every matching event, newest first, a batch per short transaction (an export of a
    year does not hold one transaction or connection open for its whole download)."""
    base = flt.conditions()
    after: tuple[datetime, int] | None = None
    while True:
        where = [*base, _before(*after)] if after else base
        async with sessionmaker() as session:
            batch = list(await session.scalars(_newest_first(where).limit(EXPORT_BATCH)))
        if not batch:
            return
        yield batch
        if len(batch) < EXPORT_BATCH:
            return
        after = (batch[-1].occurred_at, batch[-1].id)


def _flat(e: AuditEvent) -> dict[str, Any]:
    row = {c: getattr(e, c) for c in CSV_COLUMNS if c != "summary"}
    row["summary"] = describe(row)
    return row


def _csv_line(values: list[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(values)
    return buffer.getvalue()


def _csv_cell(value: Any) -> Any:
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, datetime):
        return value.isoformat()
    text = "" if value is None else str(value)
    # A cell starting with = + - @ is a formula to a spreadsheet: quote it as text.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def export_lines(
    sessionmaker: async_sessionmaker[AsyncSession], flt: AuditFilter, fmt: str
) -> AsyncIterator[bytes]:
    encode: Callable[[AuditEvent], str]
    if fmt == "csv":

        def encode(e: AuditEvent) -> str:
            row = _flat(e)
            return _csv_line([_csv_cell(row[c]) for c in CSV_COLUMNS])

    else:

        def encode(e: AuditEvent) -> str:
            return json.dumps(_flat(e), default=str, ensure_ascii=False) + "\n"

    async def lines() -> AsyncIterator[bytes]:
        if fmt == "csv":
            yield _csv_line(list(CSV_COLUMNS)).encode()
        async for batch in _batches(sessionmaker, flt):
            yield "".join(encode(e) for e in batch).encode()

    return lines()

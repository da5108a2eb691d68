"""Accounting of router calls and the monthly token budget of an organization.

Every attempt is recorded (``llm_calls``). Model tokens are metered against the budget by
reservation: before a model call the router reserves its estimate (prompt plus the output
allowance) in one atomic step, which fails when it would take the month past the budget; after
the call it settles the reservation with the real count, or releases it when the call failed.
So concurrent calls cannot overspend a budget by more than one call's estimate going over it,
as long as providers stay within the output allowance (the router cuts or refuses answers that
do not). When a call settles above its reservation and the month's usage reaches the budget,
the organization is stopped: every further call of the month is refused, whatever it would
cost, until the budget is raised above the one it stopped at.
Builtin calls are recorded with no cost and reserve nothing.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol

from psycopg import AsyncConnection as PsycopgConnection
from sqlalchemy import insert, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from phi_llm.errors import BudgetExceeded, BudgetStopped, UnknownOrganization
from phi_llm.types import CallContext, CallRecord

log = logging.getLogger(__name__)


def current_month() -> date:
    """The first day of the current month (UTC): budgets run per calendar month."""
    now = datetime.now(UTC)
    return date(now.year, now.month, 1)


@dataclass(frozen=True)
class Reservation:
    """Tokens set aside for one call in flight, to be settled or released."""

    org_id: uuid.UUID
    month: date
    tokens: int


class Accountant(Protocol):
    """The router's bookkeeper: budget reservations around model calls, a record per attempt."""

    async def check_budget(self, context: CallContext) -> None:
        """Raise :class:`BudgetExceeded` when the context's organization has used its budget
        (:class:`BudgetStopped` when its calls are stopped)."""

    async def reserve(self, context: CallContext, tokens: int) -> Reservation | None:
        """Set ``tokens`` aside for a call, or raise :class:`BudgetExceeded` when they would
        take the organization past its budget, :class:`BudgetStopped` when its calls are
        stopped (:class:`UnknownOrganization` when there is no such organization). ``None``
        when the call has no organization."""

    async def settle(self, reservation: Reservation, tokens: int) -> None:
        """Replace the reservation by the tokens really used (0 releases it); when that is
        more than reserved and the usage reaches the budget, stop the organization's calls.
        Never raises."""

    async def record(self, record: CallRecord) -> None:
        """Store one attempt. Must not raise for storage problems of its own."""


class NullAccountant:
    """Records nothing and allows everything (tools and benchmarks without a database)."""

    async def check_budget(self, context: CallContext) -> None:
        return None

    async def reserve(self, context: CallContext, tokens: int) -> Reservation | None:
        return None

    async def settle(self, reservation: Reservation, tokens: int) -> None:
        return None

    async def record(self, record: CallRecord) -> None:
        return None


class InMemoryAccountant:
    """Keeps records in a list and budgets in dicts; for processes without a database."""

    def __init__(self, budgets: dict[uuid.UUID, int] | None = None) -> None:
        self.records: list[CallRecord] = []
        self.budgets = budgets or {}
        self.usage: dict[uuid.UUID, int] = {}
        self.stopped_at: dict[uuid.UUID, int] = {}

    def used(self, org_id: uuid.UUID) -> int:
        return self.usage.get(org_id, 0)

    def _refuse_if_stopped(self, org_id: uuid.UUID, tokens: int = 0) -> None:
        budget, stopped = self.budgets.get(org_id), self.stopped_at.get(org_id)
        if budget is not None and stopped is not None and budget <= stopped:
            raise BudgetStopped(str(org_id), budget, self.used(org_id), tokens, stopped)

    async def check_budget(self, context: CallContext) -> None:
        if context.org_id is None or context.org_id not in self.budgets:
            return
        self._refuse_if_stopped(context.org_id)
        budget, used = self.budgets[context.org_id], self.used(context.org_id)
        if used >= budget:
            raise BudgetExceeded(str(context.org_id), budget, used)

    async def reserve(self, context: CallContext, tokens: int) -> Reservation | None:
        if context.org_id is None:
            return None
        self._refuse_if_stopped(context.org_id, tokens)
        used = self.used(context.org_id)
        budget = self.budgets.get(context.org_id)
        if budget is not None and used + tokens > budget:
            raise BudgetExceeded(str(context.org_id), budget, used, tokens)
        self.usage[context.org_id] = used + tokens
        return Reservation(context.org_id, current_month(), tokens)

    async def settle(self, reservation: Reservation, tokens: int) -> None:
        org = reservation.org_id
        self.usage[org] = max(0, self.used(org) + tokens - reservation.tokens)
        budget = self.budgets.get(org)
        if tokens > reservation.tokens and budget is not None and self.usage[org] >= budget:
            self.stopped_at[org] = budget

    async def record(self, record: CallRecord) -> None:
        self.records.append(record)


_ENSURE_ROW = text(
    "INSERT INTO llm_token_usage (org_id, month, used) "
    "SELECT id, :month, 0 FROM organizations WHERE id = :org ON CONFLICT DO NOTHING"
)
# One statement: PostgreSQL locks the row and re-checks the condition on its newest version,
# so of two concurrent reservations the second sees the first's tokens. A stop holds while
# the budget is not above the one it stopped at.
_RESERVE = text(
    "UPDATE llm_token_usage u SET used = u.used + :tokens FROM organizations o "
    "WHERE u.org_id = :org AND u.month = :month AND o.id = u.org_id "
    "AND (o.monthly_token_budget IS NULL OR (u.used + :tokens <= o.monthly_token_budget "
    "AND (u.stopped_at_budget IS NULL OR o.monthly_token_budget > u.stopped_at_budget))) "
    "RETURNING u.used"
)
_USAGE = text(
    "SELECT o.monthly_token_budget, coalesce(u.used, 0), u.stopped_at_budget "
    "FROM organizations o "
    "LEFT JOIN llm_token_usage u ON u.org_id = o.id AND u.month = :month WHERE o.id = :org"
)
# The same for a psycopg connection (a worker's pool that is not SQLAlchemy's).
_USAGE_LIBPQ = str(_USAGE.compile(dialect=postgresql.psycopg.dialect()))  # type: ignore[no-untyped-call]
# A settle above its reservation (the provider answered more than allowed) that takes the
# month to the budget stops the organization; one within its reservation never does.
_SETTLE = text(
    "UPDATE llm_token_usage u SET used = greatest(0, u.used + :delta), "
    "stopped_at_budget = CASE WHEN :delta > 0 AND o.monthly_token_budget IS NOT NULL "
    "AND u.used + :delta >= o.monthly_token_budget THEN o.monthly_token_budget "
    "ELSE u.stopped_at_budget END "
    "FROM organizations o "
    "WHERE u.org_id = :org AND u.month = :month AND o.id = u.org_id"
)


@dataclass(frozen=True)
class BudgetState:
    """An organization's monthly budget (None: unlimited), the tokens used or reserved this
    month, and the budget its calls were stopped at (None: not stopped)."""

    budget: int | None
    used: int
    stopped_at_budget: int | None

    @property
    def stopped(self) -> bool:
        return (
            self.budget is not None
            and self.stopped_at_budget is not None
            and self.budget <= self.stopped_at_budget
        )

    def refusal(self, org_id: uuid.UUID, needed: int = 0) -> BudgetExceeded | None:
        """The error refusing a call of ``needed`` tokens, or None when it fits."""
        if self.budget is None:
            return None
        if self.stopped:
            assert self.stopped_at_budget is not None
            return BudgetStopped(
                str(org_id), self.budget, self.used, needed, self.stopped_at_budget
            )
        if self.used + needed > self.budget or self.used >= self.budget:
            return BudgetExceeded(str(org_id), self.budget, self.used, needed)
        return None


async def budget_state(
    session: AsyncSession | PsycopgConnection[Any], org_id: uuid.UUID, month: date | None = None
) -> BudgetState | None:
    """The organization's :class:`BudgetState` this month (read on a SQLAlchemy session or a
    psycopg connection); None when there is no such organization."""
    params = {"org": org_id, "month": month or current_month()}
    found: Any
    if isinstance(session, AsyncSession):
        found = (await session.execute(_USAGE, params)).first()
    else:
        found = await (await session.execute(_USAGE_LIBPQ, params)).fetchone()
    if found is None:
        return None
    budget, used, stopped = found.values() if isinstance(found, dict) else found
    return BudgetState(
        None if budget is None else int(budget),
        int(used),
        None if stopped is None else int(stopped),
    )


async def spent_budget(
    session: AsyncSession | PsycopgConnection[Any], org_id: uuid.UUID
) -> BudgetExceeded | None:
    """Why the organization's next model call would be refused before it is made: its monthly
    budget is used up (:class:`BudgetExceeded`) or its calls are stopped for the month
    (:class:`BudgetStopped`); None when it may call (or there is no such organization).

    For work that can only fail without a model call (an agent task, a profile made by a
    model): refuse it up front with this error's message rather than start it."""
    state = await budget_state(session, org_id)
    return None if state is None else state.refusal(org_id)


class PostgresAccountant:
    """Writes ``llm_calls`` rows and meters ``organizations.monthly_token_budget`` in
    ``llm_token_usage`` (one row per organization and month)."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    async def check_budget(self, context: CallContext) -> None:
        if context.org_id is None:
            return
        async with self.sessionmaker() as session:
            state = await budget_state(session, context.org_id)
        refusal = None if state is None else state.refusal(context.org_id)
        if refusal is not None:
            raise refusal

    async def reserve(self, context: CallContext, tokens: int) -> Reservation | None:
        if context.org_id is None:
            return None
        month = current_month()
        params = {"org": context.org_id, "month": month, "tokens": tokens}
        async with self.sessionmaker() as session, session.begin():
            await session.execute(_ENSURE_ROW, params)
            if (await session.execute(_RESERVE, params)).first() is not None:
                return Reservation(context.org_id, month, tokens)
            state = await budget_state(session, context.org_id, month)
        if state is None:
            raise UnknownOrganization(
                f"organization {context.org_id} does not exist; model calls are metered per "
                "organization"
            )
        refusal = state.refusal(context.org_id, tokens)
        if refusal is None:  # freed between the two statements: refuse rather than loop
            refusal = BudgetExceeded(str(context.org_id), state.budget or 0, state.used, tokens)
        raise refusal

    async def settle(self, reservation: Reservation, tokens: int) -> None:
        params = {
            "org": reservation.org_id,
            "month": reservation.month,
            "delta": tokens - reservation.tokens,
        }
        try:
            async with self.sessionmaker() as session, session.begin():
                await session.execute(_SETTLE, params)
        except SQLAlchemyError:
            # The reservation stays counted: the budget errs on the side of the customer's
            # money rather than letting calls through unmetered.
            log.exception("could not settle a token reservation of org %s", reservation.org_id)

    async def record(self, record: CallRecord) -> None:
        from phi_platform.db.models import LlmCall

        ctx = record.context
        values = {
            "org_id": ctx.org_id,
            "agent_id": ctx.agent_id,
            "task_id": ctx.task_id,
            "operation": record.operation,
            "task_class": record.task_class,
            "provider": record.provider,
            "model": record.model,
            "tokens_in": record.tokens_in,
            "tokens_out": record.tokens_out,
            "latency_ms": record.latency_ms,
            "outcome": record.outcome,
            "error": record.error[:2000] if record.error else None,
            "cost_usd": record.cost_usd,
        }
        try:
            async with self.sessionmaker() as session, session.begin():
                await session.execute(insert(LlmCall).values(**values))
        except SQLAlchemyError:
            # A lost accounting row must not fail a call that already succeeded (and was paid).
            log.exception("could not record LLM call %s/%s", record.provider, record.model)


__all__ = [
    "Accountant",
    "BudgetState",
    "InMemoryAccountant",
    "NullAccountant",
    "PostgresAccountant",
    "Reservation",
    "budget_state",
    "current_month",
    "spent_budget",
]

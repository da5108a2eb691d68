"""Accounting of router calls and the monthly token budget of an organization."""

from __future__ import annotations

import logging
import uuid
from typing import Protocol

from sqlalchemy import func, insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from phi_llm.errors import BudgetExceeded
from phi_llm.types import CallContext, CallRecord

log = logging.getLogger(__name__)


class Accountant(Protocol):
    """Called by the router before every call (budget) and after every attempt (record)."""

    async def check_budget(self, context: CallContext) -> None:
        """Raise :class:`BudgetExceeded` when the context's organization is over budget."""

    async def record(self, record: CallRecord) -> None:
        """Store one attempt. Must not raise for storage problems of its own."""


class NullAccountant:
    """Records nothing and allows everything (tools and benchmarks without a database)."""

    async def check_budget(self, context: CallContext) -> None:
        return None

    async def record(self, record: CallRecord) -> None:
        return None


class InMemoryAccountant:
    """Keeps records in a list and budgets in a dict; for processes without a database."""

    def __init__(self, budgets: dict[uuid.UUID, int] | None = None) -> None:
        self.records: list[CallRecord] = []
        self.budgets = budgets or {}

    def used(self, org_id: uuid.UUID) -> int:
        return sum(r.tokens_in + r.tokens_out for r in self.records if r.context.org_id == org_id)

    async def check_budget(self, context: CallContext) -> None:
        if context.org_id is None or context.org_id not in self.budgets:
            return
        budget, used = self.budgets[context.org_id], self.used(context.org_id)
        if used >= budget:
            raise BudgetExceeded(str(context.org_id), budget, used)

    async def record(self, record: CallRecord) -> None:
        self.records.append(record)


class PostgresAccountant:
    """Writes ``llm_calls`` rows and checks ``organizations.monthly_token_budget``."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    async def tokens_used_this_month(self, session: AsyncSession, org_id: uuid.UUID) -> int:
        from phi_platform.db.models import LlmCall

        used = await session.scalar(
            select(func.coalesce(func.sum(LlmCall.tokens_in + LlmCall.tokens_out), 0)).where(
                LlmCall.org_id == org_id,
                LlmCall.created_at >= func.date_trunc("month", func.now()),
            )
        )
        return int(used or 0)

    async def check_budget(self, context: CallContext) -> None:
        from phi_platform.db.models import Organization

        if context.org_id is None:
            return
        async with self.sessionmaker() as session:
            budget = await session.scalar(
                select(Organization.monthly_token_budget).where(Organization.id == context.org_id)
            )
            if budget is None:
                return
            used = await self.tokens_used_this_month(session, context.org_id)
        if used >= budget:
            raise BudgetExceeded(str(context.org_id), int(budget), used)

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

"""Engine and session lifecycle of a service process."""

from __future__ import annotations

import asyncio
import select
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import psycopg
from psycopg_pool import AsyncConnectionPool
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from phi_platform.db import create_engine, create_sessionmaker

T = TypeVar("T")


class Database:
    def __init__(self, url: str, pool_size: int, application_name: str = "phi-service") -> None:
        self.engine: AsyncEngine = create_engine(
            url, pool_size=pool_size, application_name=application_name
        )
        self.sessionmaker: async_sessionmaker[AsyncSession] = create_sessionmaker(self.engine)
        # The same pool, connections lent in autocommit (SQLAlchemy turns it off again when
        # they come back, even if the borrower was cancelled).
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    @asynccontextmanager
    async def single_statement(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        """A pooled psycopg connection in autocommit, for reads of one statement each.

        A statement is its own snapshot, so such a read needs no transaction: this saves the
        BEGIN and ROLLBACK round trips and the ORM session around it (on the agents listing,
        the busiest read, about 180 us of CPU of the API's ~2 ms per request:
        docs/benchmarks.md, issue 24). Never for writes that must succeed or fail together.
        """
        async with self._autocommit.connect() as conn:
            raw = await conn.get_raw_connection()
            try:
                yield raw.driver_connection  # type: ignore[misc]
            except psycopg.Error as exc:
                # SQLAlchemy does not see errors of the driver connection: drop a broken one
                # here instead of handing it back to the pool (the error handlers answer 503).
                if is_connection_lost(exc):
                    await conn.invalidate(exc)
                raise

    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()


@asynccontextmanager
async def session_driver_connection(
    session: AsyncSession,
) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """The psycopg connection under ``session``, in the session's transaction: for writes
    SQLAlchemy cannot send together (a psycopg pipeline sends several in one round trip).
    The driver's errors come out as SQLAlchemy's, so the error handlers answer them as they
    answer the session's (a conflict 409, a refused value 422, a lost connection 503)."""
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    try:
        yield raw.driver_connection  # type: ignore[misc]
    except psycopg.Error as exc:
        lost = is_connection_lost(exc)
        if lost:
            await conn.invalidate(exc)
        raise DBAPIError.instance(
            "(pipeline)", None, exc, psycopg.Error, connection_invalidated=lost
        ) from exc


async def check_idle_connection(conn: psycopg.AsyncConnection[Any]) -> None:
    """A psycopg pool's check of a connection it lends, a round trip only when needed: an
    idle connection has nothing to read unless the server has closed it (a restart, a kill,
    a terminated backend: the end of the stream, or the server's last message), so a socket
    with something to read gets the full check (psycopg_pool's empty query), others none.
    A connection lost without a word (a network cut) fails at its first statement instead;
    the callers run their work again (the task runner, the job worker's restart)."""
    if conn.closed or conn.broken:
        raise psycopg.OperationalError("the connection is closed")
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    if readable:
        await AsyncConnectionPool.check_connection(conn)


def is_connection_lost(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or an exception it was raised from) says the database connection was
    lost or could not be had: a server restart or crash, a refused or dropped connection, a
    pool that found no working one. The work can be done again once the server answers.

    Errors PostgreSQL reports on a working connection (a constraint, a lock timeout, a
    cancelled statement) are not connection losses.
    """
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, DBAPIError):
            if exc.connection_invalidated:
                return True
            exc = exc.orig
            continue
        if isinstance(exc, psycopg.OperationalError):
            # No SQLSTATE: the client lost or never got the connection. Class 08: connection
            # exception; 57P01-57P03: admin shutdown, crash shutdown, cannot connect now.
            state = exc.sqlstate
            return state is None or state.startswith("08") or state in ("57P01", "57P02", "57P03")
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


def is_transaction_conflict(exc: BaseException | None) -> bool:
    """Whether ``exc`` says PostgreSQL rolled the transaction back to settle a conflict with a
    concurrent one (a deadlock, a serialization failure: SQLSTATE class 40). Nothing of the
    transaction was kept, so it can simply be run again."""
    if isinstance(exc, DBAPIError):
        exc = exc.orig
    # psycopg has no common base for the class: its SQLSTATE says it.
    return isinstance(exc, psycopg.Error) and (exc.sqlstate or "").startswith("40")


async def retry_on_conflict(
    session: AsyncSession, work: Callable[[], Awaitable[T]], *, attempts: int = 3
) -> T:
    """Run ``work`` (which ends by committing ``session``) again after a rollback when
    PostgreSQL aborted it for a deadlock or a serialization failure, up to ``attempts``
    times with a short, growing pause; the last conflict is raised (the error handlers
    answer 503 with Retry-After)."""
    for attempt in range(1, attempts + 1):
        try:
            return await work()
        except DBAPIError as exc:
            if not is_transaction_conflict(exc) or attempt == attempts:
                raise
            await session.rollback()
            await asyncio.sleep(0.05 * attempt)
    raise AssertionError("unreachable")

"""Engine and session lifecycle of a service process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import psycopg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from phi_platform.db import create_engine, create_sessionmaker


class Database:
    def __init__(self, url: str, pool_size: int, application_name: str = "phi-service") -> None:
        self.engine: AsyncEngine = create_engine(
            url, pool_size=pool_size, application_name=application_name
        )
        self.sessionmaker: async_sessionmaker[AsyncSession] = create_sessionmaker(self.engine)

    async def session(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()


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

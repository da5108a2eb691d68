from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine


def create_engine(url: str, *, pool_size: int = 10, application_name: str = "phi") -> AsyncEngine:
    """Async engine on psycopg 3 with a bounded pool.

    No pre-ping on checkout (it costs a round trip per request): a connection found broken
    is dropped by the pool and the request answered 503, so the next one reconnects.
    """
    return _create_async_engine(
        url,
        pool_size=pool_size,
        # No overflow: an overflow connection is closed again as soon as it is returned, so
        # under steady load every burst paid a new connection (fork + SCRAM on the server,
        # ~1 % of the API's CPU in bench/load.py); waiting a few ms for a pooled one is cheaper.
        max_overflow=0,
        pool_recycle=1800,
        connect_args={"application_name": application_name},
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)

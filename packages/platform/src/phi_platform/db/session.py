from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

# A pooled connection nobody has used for this long is closed, so a pool that grew under load
# shrinks back when the load is gone (issue 24: core-api kept the 10 connections it opened
# under bench/load.py for good, each a PostgreSQL process of its own).
POOL_IDLE_SECONDS = 120.0


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    application_name: str = "phi",
    idle_seconds: float = POOL_IDLE_SECONDS,
) -> AsyncEngine:
    """Async engine on psycopg 3 with a bounded pool that shrinks when idle.

    No pre-ping on checkout (it costs a round trip per request): a connection found broken
    is dropped by the pool and the request answered 503, so the next one reconnects.

    Idle connections: the pool lends the most recently returned connection first (LIFO), so
    under light load the same few are used and the others stay idle. PostgreSQL ends a
    session that has been idle (outside a transaction) for ``idle_seconds`` x 1.5
    (``idle_session_timeout``); the pool never lends one that has waited ``idle_seconds``:
    it closes it and opens a new one instead. So no request meets a connection the server
    has closed, and an idle service keeps no connection.
    """
    server_idle_ms = int(idle_seconds * 1500)
    engine = _create_async_engine(
        url,
        pool_size=pool_size,
        # No overflow: an overflow connection is closed again as soon as it is returned, so
        # under steady load every burst paid a new connection (fork + SCRAM on the server,
        # ~1 % of the API's CPU in bench/load.py); waiting a few ms for a pooled one is cheaper.
        max_overflow=0,
        pool_recycle=1800,
        pool_use_lifo=True,
        connect_args={"application_name": application_name},
    )
    _end_idle_sessions(engine, server_idle_ms)
    _replace_idle_connections(engine, idle_seconds)
    return engine


def _end_idle_sessions(engine: AsyncEngine, server_idle_ms: int) -> None:
    """Each new connection sets its session's ``idle_session_timeout`` with a statement once
    connected, not as a startup option: PgBouncer (docs/deploy.md) refuses a startup
    ``options`` parameter, so a connection asking for it that way could not be made."""

    @event.listens_for(engine.sync_engine, "connect")
    def connected(dbapi_connection: Any, record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"SET idle_session_timeout = {int(server_idle_ms)}")
        finally:
            cursor.close()
        # SET belongs to the transaction psycopg opened for it: kept only once committed.
        dbapi_connection.commit()


def _replace_idle_connections(engine: AsyncEngine, idle_seconds: float) -> None:
    pool = engine.sync_engine.pool

    @event.listens_for(pool, "checkin")
    def returned(dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            # ``info`` lives as long as this driver connection (a new one starts empty)
            record.info["idle_since"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def lent(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        since = record.info.pop("idle_since", None)
        if since is not None and time.monotonic() - since >= idle_seconds:
            # the pool closes this connection and lends a new one in its place
            raise exc.DisconnectionError("idle too long: PostgreSQL may have closed it")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)

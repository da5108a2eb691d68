"""An engine's pool gives its connections back to PostgreSQL when idle, and the next request
after that still gets a working connection (issue 24, goal 3)."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
from sqlalchemy import text

from phi_platform.db import create_engine


def test_an_idle_pool_closes_its_connections_and_serves_the_next_request(
    database_url: str,
) -> None:
    name = f"idle-{uuid.uuid4().hex[:8]}"
    libpq_url = database_url.replace("postgresql+psycopg://", "postgresql://")

    def open_connections() -> int:
        with psycopg.connect(libpq_url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (name,)
            ).fetchone()
            return int(row[0]) if row else 0

    async def main() -> None:
        engine = create_engine(database_url, pool_size=3, application_name=name, idle_seconds=1)
        try:

            async def busy() -> None:
                async with engine.connect() as conn:
                    await conn.execute(text("SELECT pg_sleep(0.2)"))

            await asyncio.gather(busy(), busy(), busy())
            assert open_connections() == 3  # the burst opened the whole pool
            await asyncio.sleep(2.5)
            assert open_connections() == 0  # PostgreSQL ended the idle sessions
            # the next requests are not handed the closed connections
            for _ in range(3):
                async with engine.connect() as conn:
                    assert (await conn.execute(text("SELECT 1"))).scalar() == 1
            assert open_connections() == 1  # one at a time: one connection, used again
        finally:
            await engine.dispose()

    asyncio.run(main())

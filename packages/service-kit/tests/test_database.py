"""The service's database handle: connections lent for single-statement reads go back to the
pool as they came out of it."""

from __future__ import annotations

import asyncio

from phi_service.db import Database


def test_a_single_statement_read_leaves_no_autocommit_connection_in_the_pool(
    database_url: str,
) -> None:
    async def main() -> None:
        db = Database(database_url, pool_size=1)  # one connection: every borrower gets it
        try:
            async with db.single_statement() as conn:
                assert conn.autocommit
                await (await conn.execute("SELECT 1")).fetchall()

            async def cancelled_mid_read() -> None:
                async with db.single_statement() as conn:
                    await conn.execute("SELECT pg_sleep(5)")

            task = asyncio.create_task(cancelled_mid_read())
            await asyncio.sleep(0.3)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

            # A session after both gets the same connection back, in a transaction again:
            # its writes still succeed or fail together.
            async with db.sessionmaker() as session:
                raw = await (await session.connection()).get_raw_connection()
                assert raw.driver_connection.autocommit is False  # type: ignore[union-attr]
        finally:
            await db.dispose()

    asyncio.run(main())

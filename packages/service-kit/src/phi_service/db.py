"""Engine and session lifecycle of a service process."""

from __future__ import annotations

from collections.abc import AsyncIterator

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

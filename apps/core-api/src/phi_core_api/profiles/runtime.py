"""What profile generation needs in a worker process: a database session factory and a router."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from phi_core_api.settings import CoreApiSettings
from phi_llm.types import LLMRouter


@dataclass
class ProfileRuntime:
    sessionmaker: async_sessionmaker[AsyncSession]
    router: LLMRouter  # phi_llm.Router in-process, or phi_llm.client.RouterClient


def build_router(
    settings: CoreApiSettings, sessionmaker: async_sessionmaker[AsyncSession]
) -> LLMRouter:
    """The router service when ``PHI_LLM_ROUTER_URL`` is set, else the router in-process
    (configured from the environment: PHI_LLM_ROUTES, PHI_LLM_CONFIG, OPENAI_API_KEY...)."""
    from phi_core_api.profiles.composer import compose_profile
    from phi_core_api.profiles.generation import COMPOSER_TASK
    from phi_llm import PostgresAccountant, Router, register_composer

    if settings.llm_router_url:
        from phi_llm.client import RouterClient
        from phi_platform.settings import read_or_create_secret

        token = settings.llm_router_token or read_or_create_secret(
            settings.secrets_dir / "llm_router_token"
        )
        return RouterClient(settings.llm_router_url, token, timeout=settings.llm_timeout_seconds)
    register_composer(COMPOSER_TASK, compose_profile)
    return Router(accountant=PostgresAccountant(sessionmaker))


_runtime: ProfileRuntime | None = None


def profile_runtime(settings: CoreApiSettings) -> ProfileRuntime:
    """One per worker process (the worker runs all its jobs on one event loop)."""
    global _runtime
    if _runtime is None:
        from phi_platform.db.session import create_engine, create_sessionmaker

        engine = create_engine(settings.resolved_database_url, pool_size=2)
        sessionmaker = create_sessionmaker(engine)
        _runtime = ProfileRuntime(sessionmaker, build_router(settings, sessionmaker))
    return _runtime

"""Workflow worker: ``python -m phi_orchestrator.worker`` (or ``phi-orchestrator-worker``).

Runs the orchestrator's jobs (task runs and resumes, tool-call expiry, schedules, checkpoint
pruning). Start as many as you like against the same database; ``make dev`` starts one.
"""

from __future__ import annotations

import uuid
from typing import Any

from phi_orchestrator.jobs import QUEUE, create_orchestrator_jobs, defer_advance
from phi_orchestrator.knowledge import Knowledge
from phi_orchestrator.notify import TASK_EVENTS, Notifier
from phi_orchestrator.runtime import TaskRunner, open_pool
from phi_orchestrator.settings import OrchestratorSettings, get_settings
from phi_service.worker import run_worker, worker_main


def build_router(settings: OrchestratorSettings, sessionmaker: Any) -> Any:
    """The router service when ``PHI_LLM_ROUTER_URL`` is set, else the router in-process
    (configured from the environment), with the workflows' builtin composers registered."""
    from phi_llm import PostgresAccountant, Router, register_composer
    from phi_orchestrator.workflows.ask.answer import COMPOSER_TASK as ASK_TASK
    from phi_orchestrator.workflows.ask.answer import compose_answer
    from phi_orchestrator.workflows.daily_warehouse_report.narrative import (
        COMPOSER_TASK as REPORT_TASK,
    )
    from phi_orchestrator.workflows.daily_warehouse_report.narrative import compose_narrative

    if settings.llm_router_url:
        from phi_llm.client import RouterClient
        from phi_platform.settings import read_or_create_secret

        token = settings.llm_router_token or read_or_create_secret(
            settings.secrets_dir / "llm_router_token"
        )
        return RouterClient(settings.llm_router_url, token, timeout=settings.llm_timeout_seconds)
    register_composer(REPORT_TASK, compose_narrative)
    register_composer(ASK_TASK, compose_answer)
    return Router(accountant=PostgresAccountant(sessionmaker))


async def run() -> None:
    from phi_platform.db.session import create_engine, create_sessionmaker

    settings = get_settings()
    engine = create_engine(settings.resolved_database_url, pool_size=2)
    sessionmaker = create_sessionmaker(engine)
    pool = open_pool(
        settings.libpq_database_url,
        max_size=settings.worker_concurrency * 3 + 2,
        name="phi-orchestrator-worker",
    )
    await pool.open()
    jobs = create_orchestrator_jobs(settings)
    # Wakes a run waiting for a local agent's answer (tool_call_wait_seconds).
    waiter = Notifier(settings.libpq_database_url, (TASK_EVENTS,), "phi-orchestrator-worker-listen")
    if settings.tool_call_wait_seconds > 0:
        await waiter.start()

    async def defer(task_id: uuid.UUID) -> None:
        await defer_advance(jobs, task_id)

    runner = TaskRunner(
        pool,
        build_router(settings, sessionmaker),
        knowledge=Knowledge(settings, sessionmaker),
        tool_call_max_attempts=settings.tool_call_max_attempts,
        extras={"agent_task_limits": settings.agent_task_limits()},
        defer=defer,
        waiter=waiter,
        tool_wait_seconds=settings.tool_call_wait_seconds,
    )
    try:
        await run_worker(
            jobs,
            settings,
            queues=[QUEUE],
            resources={"runner": runner, "pool": pool},
            name="orchestrator worker",
        )
    finally:
        await waiter.stop()
        await pool.close()
        await engine.dispose()


def main() -> None:
    worker_main(run)


if __name__ == "__main__":
    main()

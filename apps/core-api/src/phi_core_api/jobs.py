"""The background job queue: procrastinate on the platform's PostgreSQL.

The queue's tables come from Alembic migration 0002. Any number of workers
(``python -m phi_core_api.worker``) can run against the same database, on any machine;
procrastinate hands each job to exactly one of them (``SELECT ... FOR UPDATE SKIP LOCKED``).
A worker that dies stops sending heartbeats; the ``retry_stalled_jobs`` periodic task, run by
whichever worker is alive, puts the jobs of workers silent for ``worker_stalled_seconds`` back
in the queue, so a document never stays PROCESSING because its worker was killed.
"""

from __future__ import annotations

import logging

import procrastinate

from phi_core_api.settings import CoreApiSettings

logger = logging.getLogger(__name__)


async def retry_stalled_jobs(context: procrastinate.JobContext, timestamp: int) -> None:
    from phi_core_api.worker import current_settings

    manager = context.app.job_manager
    seconds = current_settings().worker_stalled_seconds
    for job in await manager.get_stalled_jobs(seconds_since_heartbeat=seconds):
        logger.warning("retrying job %s (%s): its worker stopped", job.id, job.task_name)
        await manager.retry_job(job)


async def requeue_pending_documents(context: procrastinate.JobContext, timestamp: int) -> None:
    """Queue ingestion for documents left PENDING without a job (the API stored the file but
    could not reach the queue)."""
    from phi_core_api.documents.service import INGEST_TASK, enqueue_ingestion

    async with context.app.connector.pool.connection() as conn:  # type: ignore[attr-defined]
        rows = await (
            await conn.execute(
                "SELECT d.id FROM documents d WHERE d.status = 'PENDING' "
                "AND d.updated_at < now() - interval '1 minute' AND NOT EXISTS ("
                "  SELECT 1 FROM procrastinate_jobs j WHERE j.task_name = %s "
                "  AND j.status IN ('todo', 'doing') AND j.args->>'document_id' = d.id::text)",
                (INGEST_TASK,),
            )
        ).fetchall()
    for (document_id,) in rows:
        logger.warning("queueing ingestion of PENDING document %s that had no job", document_id)
        await enqueue_ingestion(context.app, document_id)


def maintenance_tasks() -> procrastinate.Blueprint:
    blueprint = procrastinate.Blueprint()
    # Every 5 seconds (croniter's sixth field is seconds).
    blueprint.periodic(cron="* * * * * */5")(
        blueprint.task(queueing_lock="retry_stalled_jobs", pass_context=True)(retry_stalled_jobs)
    )
    blueprint.periodic(cron="* * * * *")(
        blueprint.task(queueing_lock="requeue_pending_documents", pass_context=True)(
            requeue_pending_documents
        )
    )
    return blueprint


def create_job_app(settings: CoreApiSettings) -> procrastinate.App:
    """A procrastinate App bound to the configured database, with every task registered."""
    from phi_core_api.documents.tasks import make_blueprint as documents_tasks
    from phi_core_api.profiles.tasks import make_blueprint as profiles_tasks

    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(
            conninfo=settings.libpq_database_url, min_size=1, max_size=4
        )
    )
    app.add_tasks_from(documents_tasks(), namespace="documents")
    app.add_tasks_from(profiles_tasks(), namespace="profiles")
    app.add_tasks_from(maintenance_tasks(), namespace="maintenance")
    return app

"""The background job queue: procrastinate on the platform's PostgreSQL.

The queue's tables come from Alembic migration 0002. Any number of workers can run against
the same database, on any machine; procrastinate hands each job to exactly one of them
(``SELECT ... FOR UPDATE SKIP LOCKED``). A worker that dies stops sending heartbeats; the
``retry_stalled_jobs`` periodic task, run by whichever worker is alive, puts the jobs of
workers silent for ``worker_stalled_seconds`` back in the queue.

Each service registers its own tasks on its own queues and its workers listen only to those
(plus ``maintenance``): a worker that fetches a job of a task it does not know fails it.
Tasks read what they need (settings, embedder, router...) from
``context.additional_context``, which the worker fills (see :mod:`phi_service.worker`), so a
task module never imports the worker.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import procrastinate
import procrastinate.exceptions
import procrastinate.jobs
import procrastinate.manager
import psycopg_pool
from psycopg.types.json import Jsonb

from phi_service.db import check_idle_connection
from phi_service.observability import job_log_fields

logger = logging.getLogger(__name__)

MAINTENANCE_QUEUE = "maintenance"


def context_value(context: procrastinate.JobContext, key: str) -> Any:
    """A resource the worker put in the job context (``settings``, ``embedder``...)."""
    try:
        return context.additional_context[key]
    except KeyError:
        raise RuntimeError(
            f"job context has no '{key}': run this task in a worker started by "
            "phi_service.worker.run_worker with that resource"
        ) from None


async def retry_stalled_jobs(context: procrastinate.JobContext, timestamp: int) -> None:
    manager = context.app.job_manager
    seconds = context_value(context, "settings").worker_stalled_seconds
    for job in await manager.get_stalled_jobs(seconds_since_heartbeat=seconds):
        try:
            await manager.retry_job(job)
        except procrastinate.exceptions.UniqueViolation as exc:
            if exc.constraint_name != procrastinate.manager.QUEUEING_LOCK_CONSTRAINT:
                raise
            # A job of the same queueing lock was queued while this one's worker was dead
            # (e.g. a tool call's answer for the task it was running). That job does what this
            # one would: one waiting job per queueing lock is what the lock means. Put back,
            # this one would break the lock; left 'doing', it would hold their shared lock and
            # keep the other from ever running. It ends here.
            logger.warning(
                "job %s (%s): its worker stopped and a job of queueing lock %s already waits; "
                "this one ends",
                job.id,
                job.task_name,
                job.queueing_lock,
            )
            await manager.finish_job(job, procrastinate.jobs.Status.FAILED, delete_job=False)
        else:
            logger.warning("retried job %s (%s): its worker stopped", job.id, job.task_name)


def maintenance_tasks() -> procrastinate.Blueprint:
    """Queue housekeeping every service's workers run. Fresh each call: registering a
    blueprint renames its tasks in place (namespace prefix)."""
    blueprint = procrastinate.Blueprint()
    # Every 5 seconds (croniter's sixth field is seconds).
    blueprint.periodic(cron="* * * * * */5")(
        blueprint.task(
            name="retry_stalled_jobs",
            queue=MAINTENANCE_QUEUE,
            queueing_lock="retry_stalled_jobs",
            pass_context=True,
        )(retry_stalled_jobs)
    )
    return blueprint


class JobManagerWithLogContext(procrastinate.manager.JobManager):
    """Queues each job with the ids of the request (or job) that queued it, under the ``_log``
    keyword, which the worker's middleware turns into the job's log fields and removes
    before the task runs (``phi_service.observability``)."""

    def _defer_jobs_query_kwargs(self, jobs: list[procrastinate.jobs.Job]) -> dict[str, Any]:
        jobs = [job.evolve(task_kwargs=with_log_fields(job.task_kwargs)) for job in jobs]
        return super()._defer_jobs_query_kwargs(jobs)


def with_log_fields(task_kwargs: dict[str, Any]) -> dict[str, Any]:
    """A job's keyword arguments with the ids of the request (or job) queueing it, under
    ``_log`` (kept when already there)."""
    fields = job_log_fields()
    if not fields or "_log" in task_kwargs:
        return task_kwargs
    return {**task_kwargs, "_log": fields}


# procrastinate's own function for queueing jobs (JobManager.defer_job_async runs it through
# procrastinate's connection), on the caller's connection instead: the job is queued by the
# caller's transaction, so it exists exactly when what it is about was stored, and costs no
# round trip of its own in a pipeline. The queue's trigger wakes the workers at the commit.
DEFER_IN_TRANSACTION_SQL = (
    "SELECT procrastinate_defer_jobs_v1(ARRAY[ROW(%(queue)s::varchar, %(task_name)s::varchar, "
    "%(priority)s::integer, %(lock)s::text, %(queueing_lock)s::text, %(args)s::jsonb, "
    "NULL::timestamptz)::procrastinate_job_to_defer_v1])"
)


def job_in_transaction(
    task_name: str,
    *,
    queue: str,
    lock: str | None = None,
    queueing_lock: str | None = None,
    **task_kwargs: Any,
) -> dict[str, Any]:
    """The parameters of :data:`DEFER_IN_TRANSACTION_SQL` for a job of ``task_name`` (the
    registered name, namespace included) with ``task_kwargs`` and the request's log ids. A
    ``queueing_lock`` already taken by a waiting job fails the caller's transaction (a
    unique violation): use it only for a lock nothing else can hold yet."""
    return {
        "queue": queue,
        "task_name": task_name,
        "priority": procrastinate.jobs.DEFAULT_PRIORITY,
        "lock": lock,
        "queueing_lock": queueing_lock,
        "args": Jsonb(with_log_fields(task_kwargs)),
    }


JOB_POOL_MAX_IDLE_SECONDS = 60.0


def create_job_app(
    conninfo: str,
    blueprints: Mapping[str, procrastinate.Blueprint],
    *,
    pool_max: int = 4,
    cheap_check: bool = False,
) -> procrastinate.App:
    """A procrastinate App on ``conninfo`` (libpq URL) with the given blueprints, each under
    its namespace, and the maintenance tasks.

    procrastinate's pool checks every connection it lends with a round trip (an empty
    query), so each job fetched, queued or finished costs two. ``cheap_check``: the pool
    checks with :func:`phi_service.db.check_idle_connection` instead (a round trip only when
    the socket shows the server closed the connection), one round trip each."""
    pool_factory: Any = psycopg_pool.AsyncConnectionPool
    if cheap_check:

        def pool_factory(**kwargs: Any) -> psycopg_pool.AsyncConnectionPool[Any]:
            return psycopg_pool.AsyncConnectionPool(**{**kwargs, "check": check_idle_connection})

    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(
            conninfo=conninfo,
            min_size=1,
            max_size=pool_max,
            # psycopg_pool closes one connection per max_idle that stayed unused all along:
            # with its default of 10 minutes, the connections a burst opened stayed for most
            # of an hour (issue 24); with 60 s they are gone a few minutes after the load.
            max_idle=JOB_POOL_MAX_IDLE_SECONDS,
            pool_factory=pool_factory,
        )
    )
    app.job_manager = JobManagerWithLogContext(app.connector)
    for namespace, blueprint in blueprints.items():
        app.add_tasks_from(blueprint, namespace=namespace)
    app.add_tasks_from(maintenance_tasks(), namespace="maintenance")
    return app

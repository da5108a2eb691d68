"""Background jobs of the documents domain."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np
import procrastinate
import psycopg

from phi_core_api.documents.extraction import ExtractionLimits
from phi_core_api.documents.ingest import connect, ingest, mark_failed
from phi_llm.types import EmbeddingBackend
from phi_service.jobs import context_value

logger = logging.getLogger(__name__)

# Runs of one document, counting runs cut short by a dead worker: a file that kills the
# worker (a parser crash) must end FAILED instead of being retried for ever.
MAX_ATTEMPTS = 3


def _retry_strategy() -> procrastinate.RetryStrategy:
    from phi_llm.embeddings import EmbeddingError

    # A database that went away mid-job (a restart) is not the file's fault: run it again.
    return procrastinate.RetryStrategy(
        max_attempts=MAX_ATTEMPTS,
        wait=5,
        retry_exceptions={EmbeddingError, psycopg.OperationalError},
    )


class StopWhenAborted:
    """The embedder, embedding passages batch by batch and stopping between two batches once
    the job is asked to abort (its document was deleted): the long part of an ingestion."""

    def __init__(self, embedder: Any, should_abort: Callable[[], bool]) -> None:
        self._embedder = embedder
        self._should_abort = should_abort

    def __getattr__(self, name: str) -> Any:
        return getattr(self._embedder, name)

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        size = max(1, int(self._embedder.batch_size))
        parts = []
        for i in range(0, len(texts), size):
            if self._should_abort():
                raise procrastinate.exceptions.JobAborted("the document was deleted")
            parts.append(self._embedder.embed_passages(texts[i : i + size]))
        if not parts:
            return self._embedder.embed_passages([])  # type: ignore[no-any-return]
        return np.concatenate(parts)


def ingest_document(context: procrastinate.JobContext, document_id: str) -> None:
    """Extract, chunk, embed and store one uploaded document (PENDING -> READY or FAILED)."""
    from phi_core_api.storage import storage_for
    from phi_llm.embeddings import EmbeddingError

    settings = context_value(context, "settings")
    embedder = context_value(context, "embedder")
    doc_id = uuid.UUID(document_id)
    attempt = (context.job.attempts if context.job else 0) + 1
    limits = ExtractionLimits(
        max_pages=settings.max_pdf_pages,
        max_docx_uncompressed_bytes=settings.max_docx_uncompressed_bytes,
        max_chars=settings.max_extracted_chars,
    )
    with connect(settings.libpq_database_url) as conn:
        if attempt > MAX_ATTEMPTS:
            mark_failed(
                conn,
                doc_id,
                f"processing was interrupted {MAX_ATTEMPTS} times; the file may be malformed. "
                "Try another export of it",
            )
            return
        try:
            report = ingest(
                conn,
                storage_for(settings),
                # The wrapper hands every other attribute (dim, model, embed_query) through.
                cast(EmbeddingBackend, StopWhenAborted(embedder, context.should_abort)),
                doc_id,
                limits,
            )
        except procrastinate.exceptions.JobAborted:
            logger.info("ingestion of %s cancelled: the document was deleted", doc_id)
            raise
        except EmbeddingError as exc:
            if attempt < MAX_ATTEMPTS:
                logger.warning("embedding failed for %s (attempt %d): %s", doc_id, attempt, exc)
                raise  # the task's retry strategy runs it again a little later
            mark_failed(conn, doc_id, f"the embedding service failed: {exc}")
            return
        except psycopg.OperationalError:
            logger.warning("database connection lost while ingesting %s; will retry", doc_id)
            raise
        except Exception as exc:
            logger.exception("ingestion of %s failed", doc_id)
            mark_failed(
                conn, doc_id, f"internal error while processing the file ({type(exc).__name__})"
            )
            return
        logger.info("document %s: %s %s", doc_id, report.status, report.error or "")
        if report.status == "READY":
            index_organization_if_large(conn, doc_id, settings.search_tenant_index_min_chunks)


def index_organization_if_large(conn: Any, document_id: uuid.UUID, min_chunks: int) -> None:
    """Give the document's organization its own HNSW indexes once it has ``min_chunks`` units
    (tenant_index.py says why). Runs after the document is READY, so a long build delays no
    search; an advisory lock keeps two workers from building the same index."""
    from phi_search.tenant_index import ensure_tenant_indexes, has_own_index

    row = conn.execute(
        "SELECT d.org_id, (SELECT count(*) FROM document_units u WHERE u.org_id = d.org_id) "
        "FROM documents d WHERE d.id = %s",
        (document_id,),
    ).fetchone()
    if row is None or row[1] < min_chunks:
        return
    org_id = row[0]
    if has_own_index(conn, org_id):
        return
    lock = f"tenant-index:{org_id}"
    if not conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (lock,)).fetchone()[0]:
        return  # another worker is building it
    try:
        ensure_tenant_indexes(conn, min_chunks, org_ids=[org_id], log=logger.info)
    except Exception:
        logger.exception("could not build the search index of organization %s", org_id)
    finally:
        conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (lock,))


def remove_files(
    context: procrastinate.JobContext, keys: list[str], org_id: str | None = None
) -> None:
    """Remove the stored files of deleted documents (queued after the delete commits)."""
    from phi_core_api.documents import file_cleanup
    from phi_core_api.storage import storage_for

    settings = context_value(context, "settings")
    with connect(settings.libpq_database_url) as conn:
        removed = file_cleanup.remove_files(conn, storage_for(settings), keys, org_id)
    logger.info("removed %d stored files of deleted documents", removed)


def sweep_orphan_files(context: procrastinate.JobContext, timestamp: int) -> None:
    """Remove stored files that no document row names (file_cleanup.py says which)."""
    from phi_core_api.documents import file_cleanup
    from phi_core_api.storage import storage_for

    settings = context_value(context, "settings")
    with connect(settings.libpq_database_url) as conn:
        removed = file_cleanup.sweep_orphan_files(
            conn, storage_for(settings), settings.orphan_file_grace_seconds
        )
    if removed:
        logger.warning("removed %d stored files that had no document", removed)


async def requeue_pending_documents(context: procrastinate.JobContext, timestamp: int) -> None:
    """Queue ingestion for documents left PENDING without a job (the API stored the file but
    could not reach the queue)."""
    from phi_core_api.documents.service import INGEST_TASK, enqueue_ingestion

    async with context.app.connector.pool.connection() as conn:  # type: ignore[attr-defined]
        rows = await (
            await conn.execute(
                "SELECT d.id, d.org_id FROM documents d WHERE d.status = 'PENDING' "
                "AND d.updated_at < now() - interval '1 minute' AND NOT EXISTS ("
                "  SELECT 1 FROM procrastinate_jobs j WHERE j.task_name = %s "
                "  AND j.status IN ('todo', 'doing') AND j.args->>'document_id' = d.id::text)",
                (INGEST_TASK,),
            )
        ).fetchall()
    for document_id, org_id in rows:
        logger.warning("queueing ingestion of PENDING document %s that had no job", document_id)
        await enqueue_ingestion(context.app, document_id, org_id)


def build_document_units(context: procrastinate.JobContext, document_id: str) -> None:
    """Give a READY document stored without search units its units (units_backfill.py)."""
    from phi_core_api.documents.units_backfill import build_units

    settings = context_value(context, "settings")
    embedder = context_value(context, "embedder")
    doc_id = uuid.UUID(document_id)
    with connect(settings.libpq_database_url) as conn:
        written = build_units(conn, embedder, doc_id)
        if written is None:
            logger.info("document %s: search units not needed any more", doc_id)
            return
        logger.info(
            "document %s: built %d search units from its stored chunks (chunk vectors kept)",
            doc_id,
            written,
        )
        index_organization_if_large(conn, doc_id, settings.search_tenant_index_min_chunks)


async def queue_missing_units(context: procrastinate.JobContext, timestamp: int) -> None:
    """Queue unit building for READY documents that have chunks but no units (stored before
    migration 0008), a bounded batch at a time, organizations in turns."""
    from phi_core_api.documents.units_backfill import (
        BUILD_TASK,
        find_documents_without_units,
        unit_vector_dim,
    )

    embedder = context_value(context, "embedder")
    async with context.app.connector.pool.connection() as conn:  # type: ignore[attr-defined]
        found = await find_documents_without_units(conn)
        if found.missing and (dim := await unit_vector_dim(conn)) != embedder.dim:
            logger.warning(
                "%d documents have no search units, but the vector column is %d-d and the "
                "embedding model gives %d-d: run `phi-documents reembed`",
                found.missing,
                dim,
                embedder.dim,
            )
            return
    for document_id, org_id in found.documents:
        try:
            await context.app.configure_task(
                BUILD_TASK,
                queueing_lock=f"units:{document_id}",
                lock=f"org:{org_id}",
                # New uploads first: these documents have waited since the upgrade already.
                priority=-1,
            ).defer_async(document_id=str(document_id))
        except procrastinate.exceptions.AlreadyEnqueued:
            pass
    if found.documents:
        orgs = len({org for _, org in found.documents})
        logger.warning(
            "queued search-unit building for %d documents of %d organizations stored without "
            "units (%d more wait for a later run)",
            len(found.documents),
            orgs,
            found.missing - len(found.documents),
        )


async def queue_missing_units_now(app: procrastinate.App) -> None:
    """Run the search for documents without units at once (a worker starting after an
    upgrade), rather than at the next minute."""
    try:
        await app.configure_task(
            "documents:queue_missing_units", queueing_lock="queue_missing_units"
        ).defer_async(timestamp=int(time.time()))
    except procrastinate.exceptions.AlreadyEnqueued:
        pass


def make_blueprint() -> procrastinate.Blueprint:
    """A fresh blueprint with this domain's tasks. Fresh each time because registering a
    blueprint on an app renames its tasks in place (namespace prefix), and the API process
    may build more than one app."""
    blueprint = procrastinate.Blueprint()
    blueprint.task(name="ingest_document", pass_context=True, retry=_retry_strategy())(
        ingest_document
    )
    blueprint.periodic(cron="* * * * *")(
        blueprint.task(
            name="requeue_pending_documents",
            queueing_lock="requeue_pending_documents",
            pass_context=True,
        )(requeue_pending_documents)
    )
    blueprint.task(name="build_document_units", pass_context=True, retry=_retry_strategy())(
        build_document_units
    )
    blueprint.periodic(cron="* * * * *")(
        blueprint.task(
            name="queue_missing_units", queueing_lock="queue_missing_units", pass_context=True
        )(queue_missing_units)
    )
    blueprint.task(name="remove_files", pass_context=True)(remove_files)
    # Hourly, at a minute of its own.
    blueprint.periodic(cron="17 * * * *")(
        blueprint.task(
            name="sweep_orphan_files", queueing_lock="sweep_orphan_files", pass_context=True
        )(sweep_orphan_files)
    )
    return blueprint

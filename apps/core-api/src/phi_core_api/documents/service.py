"""Rules of the documents domain: upload, list, read, delete, search."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import uuid
from dataclasses import dataclass
from typing import BinaryIO

import procrastinate
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from phi_core_api.documents.extraction import (
    CONTENT_TYPES,
    EXTENSIONS,
    UnsupportedFileType,
    detect_kind,
)
from phi_core_api.documents.schemas import SourceType
from phi_core_api.documents.upload_limit import too_large_detail
from phi_core_api.storage import FileStorage
from phi_platform.db.models import Document
from phi_service.audit import Actor, Target, record_event
from phi_service.deps import OrgAccess
from phi_service.errors import ApiError, Conflict, InvalidInput, NotFound

logger = logging.getLogger(__name__)

INGEST_TASK = "documents:ingest_document"


class PayloadTooLarge(ApiError):
    status_code = 413


class UnsupportedMediaType(ApiError):
    status_code = 415


class DuplicateDocument(Conflict):
    """The same content (sha256) is already a document of the same agent, or org-wide."""

    def __init__(self, existing: Document) -> None:
        scope = f"/agents/{existing.agent_id}" if existing.agent_id else f"/orgs/{existing.org_id}"
        super().__init__(
            f"this file is already uploaded as document {existing.id} ({existing.name!r}, "
            f"{existing.status}); delete that document first to upload the file again",
            headers={"Location": f"{scope}/documents/{existing.id}"},
        )


def clean_filename(raw: str | None) -> str:
    """The file's own name: the last path segment, printable, at most 255 characters."""
    if not (raw or "").strip():
        raise InvalidInput("the uploaded file has no name")
    name = re.split(r"[\\/]", raw or "")[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    if not name:
        raise InvalidInput(f"the file name {raw!r} is only path separators, not a file name")
    if set(name) <= {"."}:
        raise InvalidInput(f"the file name {name!r} is not a file name")
    return name[-255:]


async def enqueue_ingestion(
    jobs: procrastinate.App, document_id: uuid.UUID, org_id: uuid.UUID
) -> None:
    """Queue the ingestion job; a job already waiting for this document is enough.

    The job's lock is its organization's: procrastinate runs jobs of one lock one at a time
    (in the order they were queued), so one organization's uploads take at most one worker
    slot at a time, across all workers, and another organization's document starts as soon
    as any other slot is free. Before, a tenant's 25 MB file and 190 MB DOCX held every slot
    for minutes while another tenant's 40-byte document waited 8.5 minutes."""
    try:
        await jobs.configure_task(
            INGEST_TASK, queueing_lock=f"ingest:{document_id}", lock=f"org:{org_id}"
        ).defer_async(document_id=str(document_id))
    except procrastinate.exceptions.AlreadyEnqueued:
        pass


async def cancel_ingestion(jobs: procrastinate.App, document_id: uuid.UUID) -> None:
    """Cancel the document's waiting job and ask a running one to stop (it stops before its
    next batch of embeddings), so a deleted document frees its worker slot."""
    rows = await jobs.connector.execute_query_all_async(
        "SELECT id FROM procrastinate_jobs WHERE task_name = %(task)s "
        "AND status IN ('todo', 'doing') AND args->>'document_id' = %(doc)s",
        task=INGEST_TASK,
        doc=str(document_id),
    )
    for row in rows:
        await jobs.job_manager.cancel_job_by_id_async(row["id"], abort=True)


# Read size of the checksum pass over an upload.
_HASH_CHUNK = 1024 * 1024


def _measure(source: BinaryIO, max_bytes: int) -> tuple[int, str]:
    """Size and sha256 of ``source`` (read from its start, a chunk at a time, stopping past
    ``max_bytes``); leaves it at its start."""
    source.seek(0)
    digest = hashlib.sha256()
    size = 0
    while size <= max_bytes and (chunk := source.read(_HASH_CHUNK)):
        digest.update(chunk)
        size += len(chunk)
    source.seek(0)
    return size, digest.hexdigest()


@dataclass(frozen=True)
class MeasuredUpload:
    """An upload's file as checked before anything is stored: its clean name, size, sha256."""

    name: str
    size: int
    sha256: str


async def measure_upload(source: BinaryIO, filename: str | None, max_bytes: int) -> MeasuredUpload:
    """Size and checksum of the upload ``source`` (the request's spooled body, read a chunk at
    a time), refusing a file too large (413), empty or without a name (422)."""
    size, sha256 = await asyncio.to_thread(_measure, source, max_bytes)
    if size > max_bytes:
        raise PayloadTooLarge(too_large_detail(max_bytes))
    if not size:
        raise InvalidInput("the file is empty (0 bytes)")
    return MeasuredUpload(clean_filename(filename), size, sha256)


async def upload(
    session: AsyncSession,
    storage: FileStorage,
    jobs: procrastinate.App,
    access: OrgAccess,
    agent_id: uuid.UUID | None,
    measured: MeasuredUpload,
    source: BinaryIO,
    source_type: SourceType,
) -> Document:
    """Store the upload ``source`` (a seekable file, measured by :func:`measure_upload`) as
    a new document and queue its ingestion. The file is streamed to storage, never held whole
    in memory."""
    access.require_write()
    name, size, sha256 = measured.name, measured.size, measured.sha256
    try:
        kind = await asyncio.to_thread(detect_kind, source, name)
    except UnsupportedFileType as exc:
        raise UnsupportedMediaType(str(exc)) from exc
    existing = await _same_content(session, access.org_id, agent_id, sha256)
    if existing is not None:
        raise DuplicateDocument(existing)
    document = Document(
        org_id=access.org_id,
        agent_id=agent_id,
        name=name,
        source_type=source_type.value,
        storage_path="",
        content_type=CONTENT_TYPES[kind],
        size_bytes=size,
        sha256=sha256,
        status="PENDING",
        uploaded_by=access.user_id,
    )
    session.add(document)
    await session.flush()
    # The organization leads the key, so a bucket policy can scope a tenant's files.
    document.storage_path = f"{access.org_id}/{document.id}{EXTENSIONS[kind][0]}"
    await record_event(
        session,
        access.org_id,
        Actor.user(access.user_id),
        "document.uploaded",
        Target("document", document.id, name),
        name=name,
        source_type=source_type.value,
        size_bytes=size,
        agent_id=agent_id,
    )
    source.seek(0)
    await asyncio.to_thread(storage.save_stream, document.storage_path, source)
    try:
        await session.commit()
    except BaseException:
        await asyncio.to_thread(storage.delete, document.storage_path)
        raise
    await session.refresh(document)
    try:
        await enqueue_ingestion(jobs, document.id, document.org_id)
    except Exception:
        # The document is safe; the worker's sweep queues PENDING documents left without a job.
        logger.exception("could not queue ingestion of %s", document.id)
    return document


async def _same_content(
    session: AsyncSession, org_id: uuid.UUID, agent_id: uuid.UUID | None, sha256: str
) -> Document | None:
    """A live document of the same scope with this content. Same-content uploads of one scope
    wait for each other (a transaction lock), so two at once cannot both get in. A FAILED
    document does not count: uploading the file again is how it is retried."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"document:{org_id}:{agent_id}:{sha256}"},
    )
    query = select(Document).where(
        Document.org_id == org_id,
        Document.agent_id == agent_id if agent_id is not None else Document.agent_id.is_(None),
        Document.sha256 == sha256,
        Document.status != "FAILED",
    )
    return (await session.scalars(query.limit(1))).first()


async def list_documents(
    session: AsyncSession, org_id: uuid.UUID, agent_id: uuid.UUID | None, limit: int, offset: int
) -> list[Document]:
    query = select(Document).where(Document.org_id == org_id)
    query = query.where(
        Document.agent_id == agent_id if agent_id is not None else Document.agent_id.is_(None)
    )
    query = query.order_by(Document.created_at.desc(), Document.id).limit(limit).offset(offset)
    return list(await session.scalars(query))


async def get_document(
    session: AsyncSession, org_id: uuid.UUID, agent_id: uuid.UUID | None, document_id: uuid.UUID
) -> Document:
    document = await session.get(Document, document_id)
    if document is None or document.org_id != org_id or document.agent_id != agent_id:
        raise NotFound("document not found")
    return document


async def delete_document(
    session: AsyncSession,
    storage: FileStorage,
    jobs: procrastinate.App,
    access: OrgAccess,
    document: Document,
) -> None:
    path = document.storage_path
    document_id = document.id
    await record_event(
        session,
        access.org_id,
        Actor.user(access.user_id),
        "document.deleted",
        Target("document", document.id, document.name),
        name=document.name,
        agent_id=document.agent_id,
    )
    await session.delete(document)  # chunks go with it (ON DELETE CASCADE)
    await session.commit()
    await cancel_ingestion(jobs, document_id)
    if path:
        await asyncio.to_thread(storage.delete, path)

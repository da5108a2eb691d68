"""Removing the stored files of deleted documents, organizations and agents.

Deleting an organization or an agent deletes its document rows by cascade inside the
database; their stored files (storage/__init__.py) are removed afterwards by a background job
(``documents:remove_files``), queued only once the delete has committed, so a rolled-back
delete never loses a file. Files that still lose their row another way (the queue was down,
a worker died, a crash between storing an upload and committing it) are found by the
periodic ``documents:sweep_orphan_files``.

Keys look like ``<org_id>/<document_id>.<ext>`` (``service.upload``).
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import procrastinate
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from phi_core_api.storage import FileStorage
from phi_platform.db.models import Document

logger = logging.getLogger(__name__)

REMOVE_TASK = "documents:remove_files"
# An upload stores its file just before its row commits: a file this young may be one of
# those, so the sweep leaves it for a later run.
SWEEP_GRACE_SECONDS = 3600


async def file_keys(
    session: AsyncSession, org_id: uuid.UUID, agent_id: uuid.UUID | None = None
) -> list[str]:
    """Storage keys of the organization's documents (of one agent's, when given)."""
    query = select(Document.storage_path).where(Document.org_id == org_id)
    if agent_id is not None:
        query = query.where(Document.agent_id == agent_id)
    return [key for key in await session.scalars(query) if key]


async def remove_after_commit(
    jobs: procrastinate.App, keys: list[str], org_id: uuid.UUID | None = None
) -> None:
    """Queue the removal of files whose rows were just deleted (and committed); with
    ``org_id``, of the organization's whole folder. A failure to queue is logged, not raised:
    the delete itself succeeded and the periodic sweep removes the files later."""
    if not keys and org_id is None:
        return
    job_args: dict[str, Any] = {"keys": keys, "org_id": str(org_id) if org_id else None}
    try:
        await jobs.configure_task(REMOVE_TASK).defer_async(**job_args)
    except Exception:
        logger.exception("could not queue the removal of %d files; the sweep will", len(keys))


def remove_files(conn: Any, storage: FileStorage, keys: list[str], org_id: str | None) -> int:
    """Delete the files of ``keys`` that no document row names, and the folder of
    ``org_id`` if that organization no longer exists. Returns how many files went."""
    still_used = {
        row[0]
        for row in conn.execute(
            "SELECT storage_path FROM documents WHERE storage_path = ANY(%s)", (keys,)
        ).fetchall()
    }
    removed = 0
    for key in keys:
        if key in still_used:
            continue
        try:
            if not storage.exists(key):
                continue
            storage.delete(key)
        except ValueError:
            logger.warning("not removing %r: not a storage key", key)
            continue
        removed += 1
    if org_id is not None:
        org_uuid = uuid.UUID(org_id)  # a folder name, so never anything but an id
        exists = conn.execute("SELECT 1 FROM organizations WHERE id = %s", (org_uuid,)).fetchone()
        if exists is None:
            removed += storage.delete_folder(str(org_uuid))
    return removed


def sweep_orphan_files(
    conn: Any, storage: FileStorage, grace_seconds: float = SWEEP_GRACE_SECONDS
) -> int:
    """Delete stored files that no document row names: folders of organizations that no
    longer exist, and files (and interrupted temp files) older than ``grace_seconds`` whose
    document is gone. Anything outside an organization's folder is not ours and stays.
    Returns how many files went."""
    cutoff = time.time() - grace_seconds
    orgs = {str(r[0]) for r in conn.execute("SELECT id FROM organizations").fetchall()}
    removed = 0
    for folder in storage.folders():
        if not _is_uuid(folder) or str(uuid.UUID(folder)) != folder:
            continue  # not ours: leave it
        if folder not in orgs:
            removed += storage.delete_folder(folder)
            continue
        known = {
            r[0]
            for r in conn.execute(
                "SELECT storage_path FROM documents WHERE org_id = %s", (folder,)
            ).fetchall()
        }
        for stored in storage.list(folder):
            if stored.key not in known and stored.modified < cutoff:
                storage.delete(stored.key)
                removed += 1
    return removed


def _is_uuid(name: str) -> bool:
    try:
        uuid.UUID(name)
    except ValueError:
        return False
    return True

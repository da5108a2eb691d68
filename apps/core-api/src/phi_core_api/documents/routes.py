"""Documents: the same four routes for an agent's own documents (/agents/{agent_id}/documents)
and for the org-wide ones (/orgs/{org_id}/documents), each written out with its own path so
that a URL leads to its code; only how the scope is found differs (both answer 404 to
outsiders). Their bodies are shared below. Then the search."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, Response, UploadFile, status
from fastapi.responses import JSONResponse

import phi_search
from phi_core_api.deps import SettingsDep
from phi_core_api.documents import service
from phi_core_api.documents.runtime import EmbedderDep, JobsDep, RerankerDep, StorageDep
from phi_core_api.documents.schemas import (
    DocumentOut,
    SearchIn,
    SearchOut,
    SourceType,
    UploadRequest,
)
from phi_core_api.documents.upload_limit import too_large_detail
from phi_service.deps import CurrentUserId, OrgAccess, SessionDep, agent_access, org_access
from phi_service.errors import InvalidInput
from phi_service.idempotency import IdempotencyDep

router = APIRouter(tags=["documents"])


async def _one_file(
    request: Request,
    file: Annotated[UploadFile, File(description="PDF, DOCX, TXT or Markdown; one file")],
) -> UploadFile:
    # A second `file` part would otherwise be dropped without a word.
    parts = len((await request.form()).getlist("file"))
    if parts > 1:
        raise InvalidInput(f"send one file per upload; this request has {parts} 'file' parts")
    return file


FileField = Annotated[UploadFile, Depends(_one_file)]
SourceTypeField = Annotated[SourceType, Form(description="JD, SOP, POLICY, MANUAL or OTHER")]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


def _check_size(file: UploadFile, max_bytes: int) -> None:
    if file.size is not None and file.size > max_bytes:
        raise service.PayloadTooLarge(too_large_detail(max_bytes))


@dataclass(frozen=True)
class DocumentScope:
    """Where documents live: one agent's own (``agent_id``), or the org-wide ones (None)."""

    access: OrgAccess
    agent_id: uuid.UUID | None


async def _agent_scope(
    agent_id: uuid.UUID, session: SessionDep, user_id: CurrentUserId
) -> DocumentScope:
    agent, access = await agent_access(session, agent_id, user_id)
    return DocumentScope(access, agent.id)


async def _org_scope(
    org_id: uuid.UUID, session: SessionDep, user_id: CurrentUserId
) -> DocumentScope:
    return DocumentScope(await org_access(session, org_id, user_id), None)


AgentScope = Annotated[DocumentScope, Depends(_agent_scope)]
OrgScope = Annotated[DocumentScope, Depends(_org_scope)]

UPLOAD_RESPONSES: dict[int | str, dict[str, str]] = {
    409: {"description": "the same file is already a document here"},
    413: {"description": "file too large"},
    415: {"description": "unsupported type"},
}
UPLOAD_DESCRIPTION = (
    "Upload a document, {whose} (OWNER/ADMIN). Ingestion runs in the background: poll the "
    "document until its status is READY or FAILED."
)
DELETE_DESCRIPTION = "Delete the document, its stored file and its chunks (OWNER/ADMIN)."
AGENTS_OWN = "the agent's own"
ORG_WIDE = "org-wide (every agent's)"


# -- the bodies both scopes share ------------------------------------------------------------


async def _upload(
    scope: DocumentScope,
    file: UploadFile,
    source_type: SourceType,
    session: SessionDep,
    settings: SettingsDep,
    storage: StorageDep,
    jobs: JobsDep,
    idempotency: IdempotencyDep,
) -> DocumentOut | JSONResponse:
    scope.access.require_write()
    _check_size(file, settings.max_upload_bytes)
    # The body is already in the request's spooled temporary file (on disk past 1 MB);
    # it is measured there, then streamed from there to storage.
    measured = await service.measure_upload(file.file, file.filename, settings.max_upload_bytes)

    async def create() -> DocumentOut:
        document = await service.upload(
            session,
            storage,
            jobs,
            scope.access,
            scope.agent_id,
            measured,
            file.file,
            source_type,
        )
        return DocumentOut.model_validate(document)

    # What an Idempotency-Key remembers of a multipart upload: the file by its checksum.
    request = UploadRequest(
        name=measured.name,
        size_bytes=measured.size,
        sha256=measured.sha256,
        source_type=source_type,
    )
    return await idempotency.run(request, create, status_code=status.HTTP_202_ACCEPTED)


async def _list(
    scope: DocumentScope, session: SessionDep, limit: int, offset: int
) -> list[DocumentOut]:
    docs = await service.list_documents(session, scope.access.org_id, scope.agent_id, limit, offset)
    return [DocumentOut.model_validate(d) for d in docs]


async def _get(scope: DocumentScope, document_id: uuid.UUID, session: SessionDep) -> DocumentOut:
    return DocumentOut.model_validate(
        await service.get_document(session, scope.access.org_id, scope.agent_id, document_id)
    )


async def _delete(
    scope: DocumentScope,
    document_id: uuid.UUID,
    session: SessionDep,
    storage: StorageDep,
    jobs: JobsDep,
) -> Response:
    scope.access.require_write()
    document = await service.get_document(session, scope.access.org_id, scope.agent_id, document_id)
    await service.delete_document(session, storage, jobs, scope.access, document)
    return Response(status_code=204)


# -- an agent's own documents ----------------------------------------------------------------


@router.post(
    "/agents/{agent_id}/documents",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DocumentOut,
    responses=UPLOAD_RESPONSES,
    description=UPLOAD_DESCRIPTION.format(whose=AGENTS_OWN),
)
async def upload_agent_document(
    scope: AgentScope,
    file: FileField,
    source_type: SourceTypeField,
    session: SessionDep,
    settings: SettingsDep,
    storage: StorageDep,
    jobs: JobsDep,
    idempotency: IdempotencyDep,
) -> DocumentOut | JSONResponse:
    return await _upload(scope, file, source_type, session, settings, storage, jobs, idempotency)


@router.get(
    "/agents/{agent_id}/documents",
    response_model=list[DocumentOut],
    description=f"{AGENTS_OWN} documents",
)
async def list_agent_documents(
    scope: AgentScope, session: SessionDep, limit: Limit = 100, offset: Offset = 0
) -> list[DocumentOut]:
    return await _list(scope, session, limit, offset)


@router.get("/agents/{agent_id}/documents/{document_id}", response_model=DocumentOut)
async def get_agent_document(
    scope: AgentScope, document_id: uuid.UUID, session: SessionDep
) -> DocumentOut:
    return await _get(scope, document_id, session)


@router.delete(
    "/agents/{agent_id}/documents/{document_id}", status_code=204, description=DELETE_DESCRIPTION
)
async def delete_agent_document(
    scope: AgentScope,
    document_id: uuid.UUID,
    session: SessionDep,
    storage: StorageDep,
    jobs: JobsDep,
) -> Response:
    return await _delete(scope, document_id, session, storage, jobs)


# -- an organization's org-wide documents ----------------------------------------------------


@router.post(
    "/orgs/{org_id}/documents",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DocumentOut,
    responses=UPLOAD_RESPONSES,
    description=UPLOAD_DESCRIPTION.format(whose=ORG_WIDE),
)
async def upload_org_document(
    scope: OrgScope,
    file: FileField,
    source_type: SourceTypeField,
    session: SessionDep,
    settings: SettingsDep,
    storage: StorageDep,
    jobs: JobsDep,
    idempotency: IdempotencyDep,
) -> DocumentOut | JSONResponse:
    return await _upload(scope, file, source_type, session, settings, storage, jobs, idempotency)


@router.get(
    "/orgs/{org_id}/documents",
    response_model=list[DocumentOut],
    description=f"{ORG_WIDE} documents",
)
async def list_org_documents(
    scope: OrgScope, session: SessionDep, limit: Limit = 100, offset: Offset = 0
) -> list[DocumentOut]:
    return await _list(scope, session, limit, offset)


@router.get("/orgs/{org_id}/documents/{document_id}", response_model=DocumentOut)
async def get_org_document(
    scope: OrgScope, document_id: uuid.UUID, session: SessionDep
) -> DocumentOut:
    return await _get(scope, document_id, session)


@router.delete(
    "/orgs/{org_id}/documents/{document_id}", status_code=204, description=DELETE_DESCRIPTION
)
async def delete_org_document(
    scope: OrgScope,
    document_id: uuid.UUID,
    session: SessionDep,
    storage: StorageDep,
    jobs: JobsDep,
) -> Response:
    return await _delete(scope, document_id, session, storage, jobs)


# -- search ----------------------------------------------------------------------------------


@router.post("/agents/{agent_id}/search-docs", response_model=SearchOut)
async def search_documents(
    agent_id: uuid.UUID,
    data: SearchIn,
    session: SessionDep,
    user_id: CurrentUserId,
    settings: SettingsDep,
    embedder: EmbedderDep,
    reranker: RerankerDep,
) -> SearchOut:
    """Search the agent's documents and its organization's org-wide ones: meaning (vectors)
    fused with exact words and codes (full text)."""
    agent, access = await agent_access(session, agent_id, user_id)
    # Give the connection back to the pool while the query is embedded (tens to hundreds of
    # ms under load): held, 50 concurrent searches emptied the pool for every other route.
    await session.commit()
    hits = await phi_search.search_documents(
        session,
        embedder,
        access.org_id,
        agent.id,
        data.query,
        data.top_k,
        source_types=data.source_types,
        ef_search=settings.search_ef_search,
        candidates=settings.search_candidates,
        hybrid=settings.search_hybrid,
        reranker=reranker,
        rerank_top_n=settings.search_rerank_top_n,
    )
    return SearchOut(query=data.query, results=hits)

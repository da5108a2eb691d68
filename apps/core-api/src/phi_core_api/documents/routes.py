from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Response, UploadFile, status

import phi_search
from phi_core_api.deps import SettingsDep
from phi_core_api.documents import service
from phi_core_api.documents.runtime import EmbedderDep, JobsDep, StorageDep
from phi_core_api.documents.schemas import DocumentOut, SearchIn, SearchOut, SourceType
from phi_core_api.documents.upload_limit import too_large_detail
from phi_service.deps import CurrentUserId, SessionDep, agent_access, org_access

router = APIRouter(tags=["documents"])

FileField = Annotated[UploadFile, File(description="PDF, DOCX, TXT or Markdown")]
SourceTypeField = Annotated[SourceType, Form(description="JD, SOP, POLICY, MANUAL or OTHER")]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


async def _read(file: UploadFile, max_bytes: int) -> bytes:
    if file.size is not None and file.size > max_bytes:
        raise service.PayloadTooLarge(too_large_detail(max_bytes))
    return await file.read(max_bytes + 1)


@router.post(
    "/agents/{agent_id}/documents",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DocumentOut,
    responses={413: {"description": "file too large"}, 415: {"description": "unsupported type"}},
)
async def upload_agent_document(
    agent_id: uuid.UUID,
    file: FileField,
    source_type: SourceTypeField,
    session: SessionDep,
    user_id: CurrentUserId,
    settings: SettingsDep,
    storage: StorageDep,
    jobs: JobsDep,
) -> DocumentOut:
    """Upload a document for one agent (OWNER/ADMIN). Ingestion runs in the background:
    poll the document until its status is READY or FAILED."""
    agent, access = await agent_access(session, agent_id, user_id, write=True)
    data = await _read(file, settings.max_upload_bytes)
    document = await service.upload(
        session,
        storage,
        jobs,
        access,
        agent.id,
        file.filename,
        data,
        source_type,
        settings.max_upload_bytes,
    )
    return DocumentOut.model_validate(document)


@router.get("/agents/{agent_id}/documents", response_model=list[DocumentOut])
async def list_agent_documents(
    agent_id: uuid.UUID,
    session: SessionDep,
    user_id: CurrentUserId,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[DocumentOut]:
    agent, access = await agent_access(session, agent_id, user_id)
    docs = await service.list_documents(session, access.org_id, agent.id, limit, offset)
    return [DocumentOut.model_validate(d) for d in docs]


@router.get("/agents/{agent_id}/documents/{document_id}", response_model=DocumentOut)
async def get_agent_document(
    agent_id: uuid.UUID, document_id: uuid.UUID, session: SessionDep, user_id: CurrentUserId
) -> DocumentOut:
    agent, access = await agent_access(session, agent_id, user_id)
    return DocumentOut.model_validate(
        await service.get_document(session, access.org_id, agent.id, document_id)
    )


@router.delete("/agents/{agent_id}/documents/{document_id}", status_code=204)
async def delete_agent_document(
    agent_id: uuid.UUID,
    document_id: uuid.UUID,
    session: SessionDep,
    user_id: CurrentUserId,
    storage: StorageDep,
    jobs: JobsDep,
) -> Response:
    """Delete the document, its stored file and its chunks (OWNER/ADMIN)."""
    agent, access = await agent_access(session, agent_id, user_id, write=True)
    document = await service.get_document(session, access.org_id, agent.id, document_id)
    await service.delete_document(session, storage, jobs, document)
    return Response(status_code=204)


@router.post(
    "/orgs/{org_id}/documents",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=DocumentOut,
    responses={413: {"description": "file too large"}, 415: {"description": "unsupported type"}},
)
async def upload_org_document(
    org_id: uuid.UUID,
    file: FileField,
    source_type: SourceTypeField,
    session: SessionDep,
    user_id: CurrentUserId,
    settings: SettingsDep,
    storage: StorageDep,
    jobs: JobsDep,
) -> DocumentOut:
    """Upload an org-wide document that every agent of the organization can search."""
    access = await org_access(session, org_id, user_id)
    access.require_write()
    data = await _read(file, settings.max_upload_bytes)
    document = await service.upload(
        session,
        storage,
        jobs,
        access,
        None,
        file.filename,
        data,
        source_type,
        settings.max_upload_bytes,
    )
    return DocumentOut.model_validate(document)


@router.get("/orgs/{org_id}/documents", response_model=list[DocumentOut])
async def list_org_documents(
    org_id: uuid.UUID,
    session: SessionDep,
    user_id: CurrentUserId,
    limit: Limit = 100,
    offset: Offset = 0,
) -> list[DocumentOut]:
    """Org-wide documents (those not tied to one agent)."""
    access = await org_access(session, org_id, user_id)
    docs = await service.list_documents(session, access.org_id, None, limit, offset)
    return [DocumentOut.model_validate(d) for d in docs]


@router.get("/orgs/{org_id}/documents/{document_id}", response_model=DocumentOut)
async def get_org_document(
    org_id: uuid.UUID, document_id: uuid.UUID, session: SessionDep, user_id: CurrentUserId
) -> DocumentOut:
    access = await org_access(session, org_id, user_id)
    return DocumentOut.model_validate(
        await service.get_document(session, access.org_id, None, document_id)
    )


@router.delete("/orgs/{org_id}/documents/{document_id}", status_code=204)
async def delete_org_document(
    org_id: uuid.UUID,
    document_id: uuid.UUID,
    session: SessionDep,
    user_id: CurrentUserId,
    storage: StorageDep,
    jobs: JobsDep,
) -> Response:
    access = await org_access(session, org_id, user_id)
    access.require_write()
    document = await service.get_document(session, access.org_id, None, document_id)
    await service.delete_document(session, storage, jobs, document)
    return Response(status_code=204)


@router.post("/agents/{agent_id}/search-docs", response_model=SearchOut)
async def search_documents(
    agent_id: uuid.UUID,
    data: SearchIn,
    session: SessionDep,
    user_id: CurrentUserId,
    settings: SettingsDep,
    embedder: EmbedderDep,
) -> SearchOut:
    """Search the agent's documents and its organization's org-wide ones: meaning (vectors)
    fused with exact words and codes (full text)."""
    agent, access = await agent_access(session, agent_id, user_id)
    # Give the connection back to the pool while the query is embedded (tens to hundreds of
    # ms under load): held, 50 concurrent searches emptied the pool for every other route.
    await session.commit()
    try:
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
        )
    except phi_search.SearchUnavailable as exc:
        raise service.EmbeddingUnavailable(str(exc)) from exc
    return SearchOut(query=data.query, results=hits)

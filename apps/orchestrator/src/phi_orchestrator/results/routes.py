"""A task's result as a file: the PDF of its report."""

from __future__ import annotations

import asyncio
import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response

from phi_orchestrator.results.document import result_document
from phi_orchestrator.results.pdf import result_pdf
from phi_orchestrator.tasks import service
from phi_service.deps import CurrentUserId, SessionDep
from phi_service.errors import Conflict

router = APIRouter(tags=["tasks"])


@router.get(
    "/tasks/{task_id}/report.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The report as PDF"}},
)
async def report_pdf(
    task_id: uuid.UUID, request: Request, session: SessionDep, user_id: CurrentUserId
) -> Response:
    """The task's report with its charts as a PDF (409 while the task has no result)."""
    row = await service.task_for_member(session, task_id, user_id)
    await session.close()
    if row.status != "SUCCESS" or not row.output:
        raise Conflict(f"the task has no report to download (status {row.status})")
    doc = result_document(row._mapping, request.app.state.settings.public_web_url)
    pdf = await asyncio.to_thread(result_pdf, doc)
    name = f"{doc.task_type.lower()}-{doc.day or task_id}.pdf"
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )

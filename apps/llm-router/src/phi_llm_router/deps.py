"""Dependencies of the routes: the router, the call context from headers, the payer check."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from phi_llm.router import Router
from phi_llm.types import CallContext


def get_router(request: Request) -> Router:
    return request.app.state.router


RouterDep = Annotated[Router, Depends(get_router)]


def header_context(
    x_phi_org_id: Annotated[uuid.UUID | None, Header()] = None,
    x_phi_agent_id: Annotated[uuid.UUID | None, Header()] = None,
    x_phi_task_id: Annotated[uuid.UUID | None, Header()] = None,
    x_phi_task: Annotated[str | None, Header(max_length=100)] = None,
) -> CallContext:
    return CallContext(x_phi_org_id, x_phi_agent_id, x_phi_task_id, x_phi_task)


def require_payer(request: Request, router: Router, task_class: str, context: CallContext) -> None:
    """Refuse a call that uses model tokens without naming the organization that pays,
    unless the service token is a platform token (see RouterServiceSettings)."""
    if context.org_id is not None or request.app.state.platform_token:
        return
    if task_class == "embed" or any(router.metered(e) for e in router.route(task_class)):
        raise HTTPException(
            403,
            "this call uses model tokens, which are metered per organization: send the paying "
            "organization's id in X-Phi-Org-Id (only a platform token, "
            "PHI_LLM_ROUTER_PLATFORM_TOKEN=true, may call without one)",
        )

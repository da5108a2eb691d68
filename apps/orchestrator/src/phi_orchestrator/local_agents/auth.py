"""The local agent's bearer key as a request dependency (401 for anything but a live key)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from phi_orchestrator.local_agents import repository
from phi_orchestrator.local_agents.keys import parse_key, secret_matches
from phi_service.deps import SessionDep
from phi_service.errors import Forbidden, Unauthorized

_key_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="LocalAgentKey",
    description="A local-agent key (phia_...) from POST /agents/{agent_id}/local-agent-keys",
)


@dataclass(frozen=True)
class AgentKey:
    key_id: uuid.UUID
    agent_id: uuid.UUID
    org_id: uuid.UUID

    def require_agent(self, agent_id: uuid.UUID, what: str) -> None:
        if agent_id != self.agent_id:
            raise Forbidden(f"this key belongs to another agent; it cannot reach this {what}")


async def local_agent_key(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_key_bearer)],
) -> AgentKey:
    if credentials is None:
        raise Unauthorized("missing local-agent key: send 'Authorization: Bearer phia_...'")
    parsed = parse_key(credentials.credentials)
    if parsed is None:
        raise Unauthorized("malformed local-agent key: expected phia_<key id>_<secret>")
    key_id, secret = parsed
    row = await repository.key_for_auth(session, key_id)
    if row is None or not secret_matches(secret, row.secret_sha256):
        raise Unauthorized("unknown local-agent key: create one in the agent's settings")
    if row.revoked_at is not None:
        raise Unauthorized("this local-agent key was revoked: create a new one")
    if row.stale:
        # At most one write a minute per key, not one per long poll.
        await repository.touch_key(session, key_id)
        await session.commit()
    return AgentKey(key_id=key_id, agent_id=row.agent_id, org_id=row.org_id)


AgentKeyDep = Annotated[AgentKey, Depends(local_agent_key)]

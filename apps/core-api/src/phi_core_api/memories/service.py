"""Who may do what with memories.

Everyone in the organization reads both namespaces (an agent's memories are what it answers
from, so its users should see them). The organization's namespace is changed by OWNER/ADMIN
only. An agent's namespace takes memories from every member; OWNER/ADMIN may edit or delete
any of them, a MEMBER only those they added themselves, not those a task or another person
wrote."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from phi_search.memory import MemoryRecord
from phi_service.deps import OrgAccess
from phi_service.errors import Forbidden


@dataclass(frozen=True)
class MemoryScope:
    """A namespace as the caller reaches it: an agent's (``agent_id``) or the org's (None)."""

    access: OrgAccess
    agent_id: uuid.UUID | None

    def require_add(self) -> None:
        if self.agent_id is None:
            self.access.require_write()

    def require_change(self, memory: MemoryRecord) -> None:
        if self.access.can_write:
            return
        if self.agent_id is None:
            self.access.require_write()
        if memory.source == "user" and memory.source_user_id == self.access.user_id:
            return
        writer = f"task {memory.source_task_id}" if memory.source == "task" else "another person"
        raise Forbidden(
            f"this memory was written by {writer}; as a {self.access.role} you may edit or "
            "delete only memories you added yourself (OWNER or ADMIN may change any)"
        )

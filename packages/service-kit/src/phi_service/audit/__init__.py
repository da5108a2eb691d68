"""The organization audit log: who did what, to which target, recorded in the transaction of
the change (see ``docs/architecture.md``, "Audit log").

Record an event with one call, before the caller commits::

    await record_event(session, org_id, Actor.user(user_id), "agent.created",
                       Target("agent", agent.id, agent.name), name=agent.name)
"""

from phi_service.audit.actions import ACTIONS, ActionSpec
from phi_service.audit.describe import describe
from phi_service.audit.recorder import Actor, AuditDetailRefused, Target, record_event

__all__ = [
    "ACTIONS",
    "ActionSpec",
    "Actor",
    "AuditDetailRefused",
    "Target",
    "describe",
    "record_event",
]

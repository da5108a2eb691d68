"""Every action the audit log knows, with the target it names and the only detail fields it
may carry.

This table is the guarantee that no event carries a secret: :func:`record_event` refuses a
detail field that is not listed for its action (a whitelist, so a field added to a change
later stays out of the log until someone decides it belongs there), and every value must be a
short scalar, a short list of them, or a ``{"from": …, "to": …}`` pair. Keys, passwords,
tokens and document contents have no field here.

``phrase`` is how the web app and the export say it: "<actor> <phrase> <target>".
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ActionSpec:
    target_type: str | None
    fields: frozenset[str]
    phrase: str


def _spec(target_type: str | None, phrase: str, *fields: str) -> ActionSpec:
    return ActionSpec(target_type=target_type, fields=frozenset(fields), phrase=phrase)


ACTIONS: dict[str, ActionSpec] = {
    # Organization
    "org.created": _spec("organization", "created the organization", "name"),
    "org.renamed": _spec("organization", "renamed the organization", "name"),
    "org.settings_changed": _spec("organization", "changed the settings of", "time_zone"),
    "org.deleted": _spec("organization", "deleted the organization", "name"),
    "budget.changed": _spec(
        "organization", "changed the monthly token budget of", "monthly_token_budget"
    ),
    # Members
    "member.invited": _spec("invitation", "invited", "email", "role"),
    "member.invitation_revoked": _spec("invitation", "revoked the invitation of", "email"),
    "member.joined": _spec("user", "joined as", "email", "role"),
    "member.role_changed": _spec("user", "changed the role of", "email", "role"),
    "member.removed": _spec("user", "removed", "email", "role", "left"),
    "auth.sign_in_failed": _spec("user", "failed to sign in as", "email", "reason"),
    # Agents
    "agent.created": _spec("agent", "created agent", "name", "role_template", "tools"),
    "agent.tools_changed": _spec("agent", "changed the tools of agent", "added", "removed"),
    "agent.deleted": _spec("agent", "deleted agent", "name"),
    "document.uploaded": _spec(
        "document", "uploaded document", "name", "source_type", "size_bytes", "agent_id"
    ),
    "document.deleted": _spec("document", "deleted document", "name", "agent_id"),
    "profile.generated": _spec("agent", "generated the profile of agent", "version", "without_llm"),
    "profile.restored": _spec("agent", "restored the profile of agent", "version"),
    "config.downloaded": _spec("agent", "downloaded the config of agent", "format"),
    # Local agents
    "local_agent_key.created": _spec(
        "local_agent_key", "created key", "name", "prefix", "agent_id", "agent_name"
    ),
    "local_agent_key.revoked": _spec(
        "local_agent_key", "revoked key", "name", "prefix", "agent_id", "agent_name"
    ),
    "local_agent.refused": _spec(
        "local_agent",
        "refused",
        "reason",
        "tool",
        "count",
        "first_at",
        "last_at",
        "agent_id",
        "agent_name",
    ),
    # Tasks
    "task.started": _spec(
        "task", "started task", "workflow", "trigger", "agent_id", "agent_name", "parent_task_id"
    ),
    "task.cancelled": _spec(
        "task", "cancelled task", "workflow", "agent_id", "agent_name", "parent_task_id", "reason"
    ),
    "approval.granted": _spec(
        "approval", "approved", "tool", "task_id", "agent_id", "agent_name", "reason"
    ),
    "approval.rejected": _spec(
        "approval", "rejected", "tool", "task_id", "agent_id", "agent_name", "reason"
    ),
    # Nobody decided within PHI_APPROVAL_TIMEOUT_SECONDS (actor: the platform).
    "approval.expired": _spec(
        "approval", "expired", "tool", "task_id", "agent_id", "agent_name", "reason"
    ),
    # Deliveries: the webhook's URL may itself be a credential (Slack's are), so only its
    # host is named; the signing secret never.
    "delivery_destination.created": _spec(
        "delivery_destination",
        "added the delivery destination",
        "workflow_type",
        "kind",
        "format",
        "agent_id",
        "agent_name",
    ),
    "delivery_destination.secret_rotated": _spec(
        "delivery_destination",
        "rotated the signing secret of the delivery destination",
        "workflow_type",
        "kind",
        "agent_id",
        "agent_name",
    ),
    "delivery_destination.deleted": _spec(
        "delivery_destination",
        "removed the delivery destination",
        "workflow_type",
        "kind",
        "format",
        "agent_id",
        "agent_name",
    ),
    # Memory
    # The memory's text is the customer's content, never in the log: its id and namespace.
    # Added by a task (source "task"): its id, and the day for a report's memory of its day.
    "memory.added": _spec(
        "memory",
        "added a memory",
        "scope",
        "agent_id",
        "agent_name",
        "source",
        "task_id",
        "report_day",
    ),
    "memory.changed": _spec(
        "memory",
        "changed a memory",
        "scope",
        "agent_id",
        "agent_name",
        "text_changed",
        "valid_until",
        "task_id",
        "report_day",
    ),
    "memory.deleted": _spec("memory", "deleted a memory", "scope", "agent_id"),
}

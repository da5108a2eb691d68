"""One readable line per event ("ana@example.com revoked key phia_1a2b3c4d (Dispatch) on agent
Dispatch Desk"), the same in the API, the export and the web app."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from phi_service.audit.actions import ACTIONS


def _actor(event: Mapping[str, Any]) -> str:
    label = event.get("actor_label")
    kind = event.get("actor_type")
    if kind == "anonymous":
        address = event.get("client_address")
        return f"someone not signed in{f' from {address}' if address else ''}"
    if kind == "local_agent":
        return f"local agent {label or event.get('actor_id') or '?'}"
    if kind == "task":
        return str(label or f"task {event.get('actor_id') or '?'}")
    if kind == "system":
        return "the platform"
    if kind == "schedule":
        return f"the schedule of agent {label or event.get('actor_id') or '?'}"
    who = label or str(event.get("actor_id") or "an unknown user")
    return f"platform administrator {who}" if kind == "platform_admin" else who


def _change(value: Any) -> str:
    if isinstance(value, dict):
        return f"from {_plain(value.get('from'))} to {_plain(value.get('to'))}"
    return _plain(value)


def _plain(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "nothing"
    return str(value)


def _target(action: str, event: Mapping[str, Any], details: Mapping[str, Any]) -> str:
    label = event.get("target_label") or event.get("target_id") or ""
    if action.startswith("local_agent_key."):
        prefix, name = details.get("prefix"), details.get("name")
        return f"{prefix}… ({name})" if prefix and name else str(prefix or label)
    if action.startswith("org.") or action == "budget.changed":
        return str(label) if action in ("org.settings_changed", "budget.changed") else ""
    if action in ("member.joined", "local_agent.refused") or action.startswith("memory."):
        return ""
    return str(label)


def _suffix(action: str, details: Mapping[str, Any]) -> str:
    parts: list[str] = []
    if action == "org.renamed":
        parts.append(_change(details.get("name")))
    elif action in ("org.deleted", "org.created"):
        parts.append(str(details.get("name", "")))
    elif action == "org.settings_changed":
        parts.append(f"time zone {_change(details.get('time_zone'))}")
    elif action == "budget.changed":
        parts.append(_change(details.get("monthly_token_budget")))
    elif action == "member.invited":
        parts.append(f"as {details.get('role')}")
    elif action == "member.joined":
        parts.append(str(details.get("role", "")))
    elif action == "member.role_changed":
        parts.append(_change(details.get("role")))
    elif action == "member.removed" and details.get("left"):
        parts.append("(left the organization)")
    elif action == "agent.tools_changed":
        added, removed = details.get("added") or [], details.get("removed") or []
        changes = [
            f"added {_plain(added)}" if added else "",
            f"removed {_plain(removed)}" if removed else "",
        ]
        parts.append("(" + "; ".join(c for c in changes if c) + ")")
    elif action == "local_agent.refused":
        count = details.get("count")
        what = f"{details.get('tool') or 'a request'}: {details.get('reason')}"
        parts.append(f"{count}× {what}" if count else what)
    elif action == "auth.sign_in_failed":
        parts.append(f"({details.get('reason')})")
    elif action in ("profile.generated", "profile.restored") and details.get("version"):
        parts.append(f"(version {details['version']})")
    elif action.startswith("memory."):
        parts.append("of the organization" if details.get("scope") == "org" else "of an agent")
        if details.get("report_day"):
            parts.append(f"(the report of {details['report_day']})")
    elif action.startswith("delivery_destination."):
        parts.append(f"for {details.get('workflow_type')}")
    elif action == "approval.expired" and details.get("reason"):
        parts.append(f"({details['reason']})")
    if details.get("agent_name") and action not in ("agent.created",):
        parts.append(f"on agent {details['agent_name']}")
    return " ".join(p for p in parts if p)


def describe(event: Mapping[str, Any]) -> str:
    """The event as one sentence; ``event`` has the columns of ``audit_events``."""
    action = str(event.get("action"))
    details = event.get("details") or {}
    spec = ACTIONS.get(action)
    phrase = spec.phrase if spec else action
    words = [_actor(event), phrase, _target(action, event, details), _suffix(action, details)]
    return " ".join(w for w in words if w)

"""The builtin profile composer: a useful profile with no language model at all.

It reads the facts the profile job gathered (industry, role template, tools, document
chunks); the documents are read as a person reads them (``reading.py``: sections decide what a
line is, metadata is left out, stated schedules are kept inside the stated working hours),
keeping the document (and page) each line came from. The system prompt is
assembled from a template around those lines and says that no LLM wrote it.
"""

from __future__ import annotations

import re
from typing import Any

from phi_core_api.profiles.reading import Reading, read_documents
from phi_core_api.profiles.schedules import AT_TIME, WorkingHours
from phi_llm import BUILTIN_LABEL
from phi_llm.types import ChatRequest

MAX_DUTIES = 12
MAX_RULES = 12
MAX_SAFETY = 10

# Scheduled work the orchestrator knows for a role; everything else is derived from the text.
ROLE_WORKFLOWS: dict[str, list[dict[str, Any]]] = {
    "warehouse_analyst": [
        {
            "type": "DAILY_WAREHOUSE_REPORT",
            "description": "Pull the day's stock, receipts and shipments and write the daily "
            "warehouse report with the figures that back each finding.",
            "schedule": "0 17 * * *",
        }
    ],
}
TOOL_WORDS = {
    "db": re.compile(
        r"\b(database|wms|erp|sql|system of record|warehouse management system)\b", re.I
    ),
    "file": re.compile(r"\b(file|folder|spreadsheet|excel|csv|shared drive|directory)\b", re.I),
    "email": re.compile(r"\b(e-?mail|inbox|mailbox)\b", re.I),
    "cctv": re.compile(r"\b(cctv|camera|footage)\b", re.I),
    "browser": re.compile(r"\b(website|web portal|browser|portal)\b", re.I),
}
TOOL_DEFAULT_RULES = {
    "db": "Run read-only queries within the row and time limits of the local policy; never "
    "change data.",
    "file": "Read only the directories and file types the local policy allows.",
    "email": "Send mail only to the recipients the local policy allows.",
    "cctv": "Use camera snapshots only for the purpose stated in the task.",
    "browser": "Visit only the domains the local policy allows.",
}
DEFAULT_SAFETY = (
    "Every figure in a report comes from the data provided by tools; never invent or estimate "
    "a number you were not given.",
    "When data is missing, inconsistent or a request falls outside your duties, say so and "
    "escalate to a person instead of guessing.",
    "Never reveal credentials, connection details or personal data in reports or messages.",
)


def classify_document_lines(documents: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Duties, rules and safety lines found in the documents, each with its source."""
    reading = read_documents(documents)
    return {"duties": reading.duties, "rules": reading.rules, "safety": reading.safety}


def _cite(item: dict[str, Any]) -> str:
    src = item.get("source")
    if not src:
        return ""
    page = ""
    if src.get("page") and src.get("page_end") and src["page_end"] != src["page"]:
        page = f", pp. {src['page']}-{src['page_end']}"
    elif src.get("page"):
        page = f", p. {src['page']}"
    return f" [{src['document']}{page}]"


# "by 09:00", "before 10am", "at 6 pm": the time a duty must be done by.
TIME_OF_DAY = re.compile(
    r"\b(?:by|before|at|until)\s+(\d{1,2})(?::(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?", re.I
)
REPORT_WORDS = re.compile(r"\b(report|stock|inventory)\b", re.I)
DAILY_WORDS = re.compile(
    r"\b(daily|every day|each day|end of (the )?day|every shift|each working day|"
    r"(every|each) (morning|evening|afternoon))\b",
    re.I,
)


def deadline_cron(text: str) -> str | None:
    """A daily cron one hour before the deadline a duty names, so the work is ready by then."""
    match = TIME_OF_DAY.search(text)
    if not match:
        return None
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    suffix = (match.group(3) or "").lower().replace(".", "")
    if suffix == "pm" and hour < 12:
        hour += 12
    elif suffix == "am" and hour == 12:
        hour = 0
    if not (0 <= hour <= 23 and 0 <= minute <= 59) or (not suffix and not match.group(2)):
        return None  # "at 3" alone is too vague to schedule
    return f"{minute} {(hour - 1) % 24} * * *"


def _within_hours(cron: str, hours: WorkingHours | None) -> str:
    """A role's default time moved inside the working hours the documents state."""
    minute, hour, *rest = cron.split()
    if hours is None or not (minute.isdigit() and hour.isdigit()):
        return cron
    at = int(hour) * 60 + int(minute)
    if hours.contains(at):
        return cron
    at = max(hours.start, min(at, hours.end - 30))
    return " ".join([str(at % 60), str(at // 60), *rest])


def _workflows(
    role_key: str, reading: Reading, role_name: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The role's own workflows (times from the documents) and ASK; and, as suggestions, the
    other recurring work the documents state. No workflow type is made up: only the
    orchestrator's types are config."""
    workflows = [dict(w) for w in ROLE_WORKFLOWS.get(role_key, [])]
    for w in workflows:
        if w["schedule"]:
            w["schedule"] = _within_hours(w["schedule"], reading.hours)
    # A daily report duty with a deadline in the documents sets the role's report time.
    for duty in reading.duties:
        cron = deadline_cron(duty["text"])
        if cron and DAILY_WORDS.search(duty["text"]) and REPORT_WORDS.search(duty["text"]):
            for w in workflows:
                if w["type"].startswith("DAILY_") and w["schedule"]:
                    w["schedule"] = cron
                    w["description"] += f" Scheduled from: {duty['text']}{_cite(duty)}"
                    w["from_duty"] = duty["text"]
            break
    taken = {w.pop("from_duty", None) for w in workflows}
    suggestions = [
        {
            "type": None,
            "description": f"{schedule.line['text']}{_cite(schedule.line)}",
            "schedule": schedule.cron,
            "reason": "stated as recurring work; no workflow type runs it yet, so it is not "
            "scheduled"
            + (
                ""
                if reading.hours is not None or AT_TIME.search(schedule.line["text"])
                else "; its hour is a placeholder, not read from the documents (they give no "
                "clock time for it and no working hours)"
            ),
            "source": schedule.line.get("source"),
        }
        for schedule in reading.schedules
        if schedule.line["text"] not in taken  # already the role's own scheduled work
    ]
    workflows.append(
        {
            "type": "ASK",
            "description": f"Answer questions from the team as the {role_name}, using the "
            "uploaded documents and the data the tools return.",
            "schedule": None,
        }
    )
    return workflows, suggestions


def compose_profile(request: ChatRequest) -> dict[str, Any]:
    """Build a :class:`GeneratedProfile`-shaped dict from ``request.facts``."""
    facts = request.facts or {}
    agent = facts.get("agent") or {}
    industry = facts.get("industry") or {}
    role = facts.get("role") or {}
    tools: list[dict[str, Any]] = facts.get("tools") or []
    documents: list[dict[str, Any]] = facts.get("documents") or []
    agent_name = agent.get("name") or role.get("name") or "Virtual employee"
    role_name = role.get("name") or "team member"
    industry_name = industry.get("name") or "general"

    reading = read_documents(documents)
    duties = reading.duties[:MAX_DUTIES]
    rules = reading.rules[:MAX_RULES]
    template_src = {"document": f"role template: {role_name}", "source_type": None}
    if not duties and role.get("description"):
        duties = [
            {"text": s, "source": template_src}
            for s in re.split(r"(?<=[.!?])\s+", role["description"])
            if len(s) >= 15
        ][:MAX_DUTIES]
    safety = reading.safety[:MAX_SAFETY] + [
        {"text": text, "source": {"document": "platform default"}} for text in DEFAULT_SAFETY
    ]

    tool_keys = [t["key"] for t in tools]
    tool_rules: list[dict[str, Any]] = []
    for key in tool_keys:
        if key in TOOL_DEFAULT_RULES:
            tool_rules.append(
                {
                    "tool": key,
                    "rule": TOOL_DEFAULT_RULES[key],
                    "source": {"document": "platform default"},
                }
            )
        pattern = TOOL_WORDS.get(key)
        # Rules and safety lines say how a tool may be used; a duty naming a tool does not.
        for item in rules + reading.safety:
            if pattern is not None and pattern.search(item["text"]):
                tool_rules.append({"tool": key, "rule": item["text"], "source": item["source"]})

    capabilities = [str(c).replace("_", " ") for c in role.get("default_capabilities") or []]
    capabilities += [d["text"] for d in duties if d["text"] not in capabilities]
    if not capabilities:
        capabilities = [f"work as a {role_name}"]
    workflows, suggestions = _workflows(str(role.get("key") or "agent"), reading, role_name)

    doc_names = sorted({d["name"] for d in documents})
    parts = [
        f"You are {agent_name}, a virtual {role_name} working in {industry_name}.",
    ]
    if role.get("description"):
        parts.append(role["description"].strip())
    if industry.get("description"):
        parts.append(f"About the industry: {industry['description'].strip()}")
    if duties:
        parts.append("Your duties:\n" + "\n".join(f"- {d['text']}{_cite(d)}" for d in duties))
    if rules:
        parts.append("Rules you follow:\n" + "\n".join(f"- {r['text']}{_cite(r)}" for r in rules))
    parts.append("Safety constraints:\n" + "\n".join(f"- {s['text']}{_cite(s)}" for s in safety))
    if tool_keys:
        parts.append(
            "Tools you may use through the local agent: "
            + ", ".join(tool_keys)
            + ". Follow each tool's usage rules."
        )
    scheduled = [w for w in workflows if w["schedule"]]
    if scheduled:
        parts.append(
            "Scheduled work:\n"
            + "\n".join(
                f"- {w['type']} at cron '{w['schedule']}': {w['description']}" for w in scheduled
            )
        )
    if suggestions:
        parts.append(
            "Recurring work the documents state (not scheduled: no workflow runs it yet; do it "
            "when asked):\n" + "\n".join(f"- {w['description']}" for w in suggestions)
        )
    source_note = (
        f"{len(doc_names)} uploaded document(s): {', '.join(doc_names)}"
        if doc_names
        else "no uploaded documents (upload JDs and SOPs for a more specific profile)"
    )
    parts.append(
        f"({BUILTIN_LABEL}: composed from the role template, the industry and {source_note}.)"
    )
    return {
        "system_prompt": "\n\n".join(parts),
        "capabilities": capabilities[:40],
        "duties": duties,
        "workflows": workflows,
        "schedule_suggestions": suggestions[:40],
        "tool_usage_rules": tool_rules[:60],
        "safety_constraints": safety,
    }

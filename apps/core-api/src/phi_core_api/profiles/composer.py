"""The builtin profile composer: a useful profile with no language model at all.

It reads the facts the profile job gathered (industry, role template, tools, document
chunks) and sorts the lines of the documents into duties, rules and safety constraints by
their wording, keeping the document (and page) each line came from. The system prompt is
assembled from a template around those lines and says that no LLM wrote it.
"""

from __future__ import annotations

import re
from typing import Any

from phi_llm import BUILTIN_LABEL
from phi_llm.types import ChatRequest

MAX_DUTIES = 12
MAX_RULES = 12
MAX_SAFETY = 10

SAFETY_WORDS = re.compile(
    r"\b(safety|safe|hazard\w*|injur\w*|ppe|helmet|hi-vis|high-visibility|fire|emergenc\w*|"
    r"evacuat\w*|first aid|spill\w*|forklift\w*|lockout|incident\w*|accident\w*|danger\w*|"
    r"confidential\w*|personal data|privacy|gdpr|hipaa|never|must not|do not|prohibited|"
    r"forbidden)\b",
    re.IGNORECASE,
)
RULE_WORDS = re.compile(
    r"\b(must|shall|always|required|requires|only|before|after|within|no later than|"
    r"at least|policy|approval|approve\w*|sign[- ]off|escalat\w*|should)\b",
    re.IGNORECASE,
)
DUTY_WORDS = re.compile(
    r"\b(responsib\w*|duties|prepar\w*|monitor\w*|report\w*|review\w*|analy[sz]\w*|track\w*|"
    r"ensur\w*|coordinat\w*|manag\w*|reconcil\w*|investigat\w*|compil\w*|maintain\w*|"
    r"check\w*|count\w*|update\w*|plan\w*|forecast\w*|audit\w*|inspect\w*|schedul\w*|"
    r"summari[sz]\w*|flag\w*|compare\w*)\b",
    re.IGNORECASE,
)
PERIODS = (
    (
        re.compile(
            r"\b(daily|every day|each day|end of (the )?day|every shift|"
            r"(every|each) (morning|evening|afternoon))\b",
            re.I,
        ),
        "DAILY",
        "0 17 * * *",
    ),
    (re.compile(r"\b(weekly|every week|each week|every monday)\b", re.I), "WEEKLY", "0 9 * * 1"),
    (
        re.compile(r"\b(monthly|every month|each month|month[- ]end)\b", re.I),
        "MONTHLY",
        "0 9 1 * *",
    ),
)
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
_BULLET = re.compile(r"^\s*(?:[-*•·▪►]|\d{1,2}[.)]|[a-z][.)])\s+")


def _is_heading(line: str) -> bool:
    return (
        len(line) < 80 and len(line.split()) <= 8 and not line.endswith((".", "!", "?", ";", ","))
    )


def _paragraph_lines(text: str) -> list[str]:
    """Lines of text with PDF line wrapping undone: a row continues the previous one unless
    it starts a bullet or the previous one is a heading or ends a sentence."""
    merged: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        rows = [r.strip() for r in paragraph.split("\n") if r.strip()]
        start = len(merged)
        for row in rows:
            prev = merged[-1] if len(merged) > start else None
            if (
                prev is not None
                and not _BULLET.match(row)
                and not _is_heading(prev)
                and not prev.endswith((".", "!", "?", ":", ";"))
            ):
                merged[-1] = f"{prev} {row}"
            else:
                merged.append(row)
    return merged


def _lines(text: str) -> list[str]:
    """Candidate lines: bullets and sentences of reasonable length, without list markers."""
    out = []
    for raw in _paragraph_lines(text):
        if raw.startswith("#") or _is_heading(raw):
            continue
        pieces = [raw] if _BULLET.match(raw) else re.split(r"(?<=[.!?;])\s+(?=[A-Z])", raw)
        for piece in pieces:
            line = _BULLET.sub("", piece).strip().rstrip(";").strip()
            if 15 <= len(line) <= 400 and not line.endswith(":"):
                out.append(line)
    return out


def _source(doc: dict[str, Any], chunk: dict[str, Any]) -> dict[str, Any]:
    return {
        "document_id": doc.get("id"),
        "document": doc["name"],
        "source_type": doc.get("source_type"),
        "page": chunk.get("page"),
        "page_end": chunk.get("page_end"),
    }


def classify_document_lines(documents: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Duties, rules and safety lines found in the documents, each with its source."""
    found: dict[str, list[dict[str, Any]]] = {"duties": [], "rules": [], "safety": []}
    seen: set[str] = set()
    for doc in documents:
        for chunk in doc.get("chunks", []):
            for line in _lines(chunk.get("text", "")):
                key = line.lower()
                if key in seen:
                    continue
                if SAFETY_WORDS.search(line):
                    kind = "safety"
                elif RULE_WORDS.search(line):
                    kind = "rules"
                elif DUTY_WORDS.search(line) or doc.get("source_type") == "JD":
                    kind = "duties"
                else:
                    continue
                seen.add(key)
                found[kind].append({"text": line, "source": _source(doc, chunk)})
    return found


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


def _workflows(role_key: str, duties: list[dict[str, Any]], role_name: str) -> list[dict[str, Any]]:
    workflows = [dict(w) for w in ROLE_WORKFLOWS.get(role_key, [])]
    # A daily report duty with a deadline in the documents sets the role's report time.
    for duty in duties:
        cron = deadline_cron(duty["text"])
        if cron and PERIODS[0][0].search(duty["text"]) and REPORT_WORDS.search(duty["text"]):
            for w in workflows:
                if w["type"].startswith("DAILY_") and w["schedule"]:
                    w["schedule"] = cron
                    w["description"] += f" Scheduled from: {duty['text']}{_cite(duty)}"
            break
    have = {w["type"] for w in workflows}
    prefix = re.sub(r"[^A-Z0-9]+", "_", role_key.upper()).strip("_") or "AGENT"
    for duty in duties:
        for pattern, period, cron in PERIODS:
            if pattern.search(duty["text"]):
                wtype = f"{period}_{prefix}_REVIEW"
                if wtype not in have and not any(w["schedule"] == cron for w in workflows):
                    workflows.append({"type": wtype, "description": duty["text"], "schedule": cron})
                    have.add(wtype)
                break
    workflows.append(
        {
            "type": "ASK",
            "description": f"Answer questions from the team as the {role_name}, using the "
            "uploaded documents and the data the tools return.",
            "schedule": None,
        }
    )
    return workflows


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

    lines = classify_document_lines(documents)
    duties = lines["duties"][:MAX_DUTIES]
    rules = lines["rules"][:MAX_RULES]
    template_src = {"document": f"role template: {role_name}", "source_type": None}
    if not duties and role.get("description"):
        duties = [
            {"text": s, "source": template_src}
            for s in re.split(r"(?<=[.!?])\s+", role["description"])
            if len(s) >= 15
        ][:MAX_DUTIES]
    safety = lines["safety"][:MAX_SAFETY] + [
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
        for item in rules + lines["safety"] + duties:
            if pattern is not None and pattern.search(item["text"]):
                tool_rules.append({"tool": key, "rule": item["text"], "source": item["source"]})

    capabilities = [str(c).replace("_", " ") for c in role.get("default_capabilities") or []]
    capabilities += [
        d["text"] for d in lines["duties"][:MAX_DUTIES] if d["text"] not in capabilities
    ]
    if not capabilities:
        capabilities = [f"work as a {role_name}"]
    workflows = _workflows(str(role.get("key") or "agent"), duties, role_name)

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
        "tool_usage_rules": tool_rules[:60],
        "safety_constraints": safety,
    }

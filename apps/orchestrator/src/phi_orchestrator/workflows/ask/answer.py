"""The answer's prompt, the sources it cites (document passages and memories), and the
builtin composer that quotes them."""

from __future__ import annotations

from typing import Any

from phi_llm.types import BUILTIN_LABEL, ChatRequest, Message

COMPOSER_TASK = "ask"


def memory_origin(memory: dict[str, Any]) -> str:
    """Where a memory came from and when, as an answer cites it."""
    if memory.get("report_day"):
        return f"remembered from the report of {memory['report_day']}"
    day = str(memory.get("created_at") or "")[:10]
    if memory.get("source") == "task":
        return f"remembered from task {memory.get('source_task_id')} of {day}"
    whose = "the organization's memory" if memory.get("namespace") == "org" else "a memory"
    return f"{whose}, noted by a user on {day}"


def sources(passages: list[dict[str, Any]], memories: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Everything the answer may cite, numbered from 1: memories first (facts the agent
    kept, with their day), then document passages."""
    cited: list[dict[str, Any]] = []
    for m in memories:
        cited.append(
            {
                "n": len(cited) + 1,
                "kind": "memory",
                "memory_id": m["memory_id"],
                "namespace": m["namespace"],
                "source": m["source"],
                "source_task_id": m.get("source_task_id"),
                "report_day": m.get("report_day"),
                "created_at": m.get("created_at"),
                "origin": memory_origin(m),
                "excerpt": m["text"],
            }
        )
    for p in passages:
        cited.append(
            {
                "n": len(cited) + 1,
                "kind": "document",
                "document_id": p["document_id"],
                "document_name": p["document_name"],
                "excerpt": p["excerpt"],
                "text": p["text"],
            }
        )
    return cited


def _label(source: dict[str, Any]) -> str:
    if source["kind"] == "memory":
        return str(source["origin"])
    return str(source["document_name"])


def answer_messages(
    question: str, cited: list[dict[str, Any]], system_prompt: str | None
) -> list[Message]:
    numbered = "\n\n".join(f"[{s['n']}] {_label(s)}: {s.get('text', s['excerpt'])}" for s in cited)
    return [
        {
            "role": "system",
            "content": system_prompt or "You answer from company documents and what you remember.",
        },
        {
            "role": "user",
            "content": "Answer the question using only the numbered sources (document passages "
            "and things you remember, each with where and when it comes from); cite them as "
            "[n], and say the day of any remembered figure. If they do not answer it, say so.\n\n"
            f"Sources:\n{numbered or '(none)'}\n\nQuestion: {question}",
        },
    ]


def compose_answer(request: ChatRequest) -> str:
    """Builtin answer: memories and passages quoted word for word with their sources and
    dates, never merged or reworded, and labelled as such."""
    cited = (request.facts or {}).get("sources", [])
    if not cited:
        return (
            "Nothing the agent remembers and none of its documents matches this question."
            f"\n\n_{BUILTIN_LABEL}._"
        )
    lines: list[str] = []
    memories = [s for s in cited if s["kind"] == "memory"]
    passages = [s for s in cited if s["kind"] == "document"]
    if memories:
        lines.append("The agent remembers:")
        lines += [f"- [{s['n']}] {s['origin']}: “{s['excerpt']}”" for s in memories]
    if passages:
        if lines:
            lines.append("")
        lines.append("The agent's documents say:")
        lines += [f"- [{s['n']}] {s['document_name']}: “{s['excerpt']}”" for s in passages]
    return "\n".join(lines) + f"\n\n_{BUILTIN_LABEL}: quoted, not summarised._"

"""The answer's prompt, and the builtin composer that quotes the passages found."""

from __future__ import annotations

from typing import Any

from phi_llm.types import BUILTIN_LABEL, ChatRequest, Message

COMPOSER_TASK = "ask"


def answer_messages(
    question: str, passages: list[dict[str, Any]], system_prompt: str | None
) -> list[Message]:
    sources = "\n\n".join(
        f"[{i}] {p['document_name']}: {p['text']}" for i, p in enumerate(passages, start=1)
    )
    return [
        {"role": "system", "content": system_prompt or "You answer from company documents."},
        {
            "role": "user",
            "content": "Answer the question using only the numbered passages; cite them as [n]. "
            "If they do not answer it, say so.\n\n"
            f"Passages:\n{sources or '(none)'}\n\nQuestion: {question}",
        },
    ]


def compose_answer(request: ChatRequest) -> str:
    """Builtin answer: the best passages quoted with their sources, labelled as such."""
    facts = request.facts or {}
    passages = facts.get("passages", [])
    if not passages:
        return f"None of the agent's documents matches this question.\n\n_{BUILTIN_LABEL}._"
    lines = ["The agent's documents say:"]
    for i, p in enumerate(passages, start=1):
        lines.append(f"- [{i}] {p['document_name']}: “{p['excerpt']}”")
    return "\n".join(lines) + f"\n\n_{BUILTIN_LABEL}: passages quoted, not summarised._"

"""The limits every agent task runs under (worker settings ``PHI_AGENT_TASK_*``), and the
failure that ends a task which reaches one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from phi_orchestrator.workflows.base import WorkflowError


@dataclass(frozen=True)
class AgentTaskLimits:
    # Model turns per task.
    max_steps: int = 12
    # Model tokens (prompt + answer, every turn) per task.
    max_tokens: int = 100_000
    # Output tokens asked for per model turn (also what the org's budget reserves for it).
    max_output_tokens: int = 2048
    # Time for one tool call (a local agent's answer included) and for the whole task
    # (time spent waiting for a person's approval not counted).
    tool_seconds: float = 120.0
    task_seconds: float = 1800.0
    # Characters of one tool result fed back to the model; the rest is cut with a note.
    result_chars: int = 12_000


class LimitReached(WorkflowError):
    """A limit ended the task; the message names it. What was found is kept in the result."""

    def __init__(
        self, limit: str, message: str, evidence: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(f"{limit} limit: {message}")
        self.limit = limit
        # What the call that reached it had found (a task it started and had to stop).
        self.evidence = evidence or []

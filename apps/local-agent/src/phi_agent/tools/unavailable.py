"""Tools the product will have but this version does not: they answer at once with a clear
error instead of leaving the cloud's call waiting for a lease to expire."""

from __future__ import annotations

from typing import Any

from phi_agent.audit import AuditLog
from phi_agent.policy import Policy
from phi_agent.registry import CheckLine, ToolFailed, register

NOT_AVAILABLE = "not available in this version"


class UnavailableTool:
    always_listed = True

    def __init__(self, name: str) -> None:
        self.name = name

    def run(self, payload: dict[str, Any]) -> str:
        raise ToolFailed(f"{self.name}: {NOT_AVAILABLE}")

    def check(self) -> list[CheckLine]:
        return [CheckLine(self.name, False, NOT_AVAILABLE)]

    def close(self) -> None:
        pass


for _name in ("cctv", "email", "browser"):

    def _factory(policy: Policy, audit: AuditLog, _n: str = _name) -> UnavailableTool:
        return UnavailableTool(_n)

    register(_name)(_factory)

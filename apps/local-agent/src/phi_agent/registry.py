"""Tools by name. A tool is one module in ``phi_agent.tools`` that registers itself here.

A tool turns a call's payload into a JSON result (already encoded, so a large result is never
held twice), or raises :class:`ToolRefused` (outside the policy) / :class:`ToolFailed`; both
go back to the cloud as the call's error with the reason.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from phi_agent.audit import AuditLog
from phi_agent.policy import Policy


class ToolError(Exception):
    """The call ends with this message as its error."""


class ToolRefused(ToolError):
    """The policy does not allow the request."""


class ToolFailed(ToolError):
    """The request was allowed but could not be carried out."""


@dataclass(frozen=True)
class CheckLine:
    """One line of ``phi-agent check``: what was tried, whether it works, and the detail."""

    label: str
    ok: bool
    detail: str


class Tool(Protocol):
    name: str

    def run(self, payload: dict[str, Any]) -> str:
        """Carry out the call; return the result as JSON text."""
        ...

    def check(self) -> list[CheckLine]:
        """Try the tool's connections or folders without running a call."""
        ...

    def close(self) -> None: ...


ToolFactory = Callable[[Policy, AuditLog], Tool]
_FACTORIES: dict[str, ToolFactory] = {}


def register(name: str) -> Callable[[ToolFactory], ToolFactory]:
    def decorate(factory: ToolFactory) -> ToolFactory:
        _FACTORIES[name] = factory
        return factory

    return decorate


def _load_tool_modules() -> None:
    import phi_agent.tools as package

    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")


def available_tools() -> list[str]:
    _load_tool_modules()
    return sorted(_FACTORIES)


class DisabledTool:
    """A tool the local policy turns off: its calls are refused at once, saying so, rather
    than left unclaimed until the cloud gives up on them."""

    def __init__(self, name: str) -> None:
        self.name = name

    def run(self, payload: dict[str, Any]) -> str:
        raise ToolRefused(f"the {self.name} tool is off in this machine's local policy")

    def check(self) -> list[CheckLine]:
        return [CheckLine(self.name, False, "off in the local policy")]

    def close(self) -> None:
        pass


def build_tools(policy: Policy, audit: AuditLog) -> dict[str, Tool]:
    """Every tool this agent answers for: the ones the policy enables; the others refuse
    their calls with the reason; cctv, email and browser say they are not available yet."""
    _load_tool_modules()
    tools: dict[str, Tool] = {}
    enabled = policy.enabled_tools()
    for name, factory in _FACTORIES.items():
        tool = factory(policy, audit)
        if getattr(tool, "always_listed", False) or name in enabled:
            tools[name] = tool
        else:
            tools[name] = DisabledTool(name)
    return tools

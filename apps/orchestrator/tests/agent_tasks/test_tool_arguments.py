"""The tools an agent task offers: each task's offer is its own (run_workflow narrowed to the
agent's workflow types), and a call's arguments are checked against what was offered."""

from __future__ import annotations

from typing import Any

from phi_orchestrator.workflows.agent_task.tools import TOOLS, check_arguments, specs


def _agent(*types: str) -> dict[str, Any]:
    return {"tools": [], "config": {"workflows": [{"type": t} for t in types]}}


def _types(offer: list[dict[str, Any]]) -> list[str]:
    return offer[0]["function"]["parameters"]["properties"]["type"]["enum"]  # type: ignore[no-any-return]


def test_one_agents_offer_does_not_change_anothers() -> None:
    shared = list(TOOLS["run_workflow"].parameters["properties"]["type"]["enum"])
    asks = specs(["run_workflow"], _agent("ASK"))
    reports = specs(["run_workflow"], _agent("DAILY_WAREHOUSE_REPORT"))
    assert _types(asks) == ["ASK"]
    assert _types(reports) == ["DAILY_WAREHOUSE_REPORT"]
    assert TOOLS["run_workflow"].parameters["properties"]["type"]["enum"] == shared


def test_arguments_are_checked_against_the_offer() -> None:
    offer = specs(["run_workflow"], _agent("ASK"))[0]["function"]["parameters"]
    raw = '{"type": "DAILY_WAREHOUSE_REPORT"}'
    args, error = check_arguments("run_workflow", raw, ["run_workflow"], offer)
    assert error is not None and "is not one of ['ASK']" in error
    assert check_arguments("run_workflow", '{"type": "ASK"}', ["run_workflow"], offer)[1] is None
    # And a wrong type still names where it is wrong.
    _, error = check_arguments("search_documents", '{"query": 3}', ["search_documents"])
    assert error == "invalid arguments at query: 3 is not of type 'string'"

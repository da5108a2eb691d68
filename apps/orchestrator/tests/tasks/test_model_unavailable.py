"""When no model can write the prose, the report still ends SUCCESS with figures and a
narrative assembled from them, saying why."""

from __future__ import annotations

from typing import Any

import httpx
from orch_factories import make_tenant, run_task, wait_task


def test_report_and_answer_survive_a_dead_model_endpoint(
    api: httpx.Client, database_url: str, start_worker: Any
) -> None:
    # An OpenAI-compatible endpoint on a port nobody listens on, and no builtin fallback.
    start_worker(
        llm_routes="heavy=openai:gpt-test;light=openai:gpt-test",
        openai_base_url="http://127.0.0.1:9/v1",
    )
    tenant = make_tenant(database_url)
    report_id = run_task(api, tenant, "DAILY_WAREHOUSE_REPORT", {"day": "2026-11-24"})
    ask_id = run_task(api, tenant, "ASK", {"question": "q"})
    report = wait_task(api, tenant, report_id, {"SUCCESS", "FAILED"}, timeout=180)
    assert report["status"] == "SUCCESS", report["error"]
    assert report["output"]["narrative_source"] == "builtin"
    assert "without an LLM" in report["output"]["full_report_md"]
    fallback = [e for e in report["events"] if e["event_type"] == "narrative_fallback"]
    assert fallback and fallback[0]["payload"]["reason"]
    ask = wait_task(api, tenant, ask_id, {"SUCCESS", "FAILED"}, timeout=180)
    assert ask["status"] == "SUCCESS" and ask["output"]["answer_source"] == "builtin"

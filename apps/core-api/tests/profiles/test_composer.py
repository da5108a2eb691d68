"""The builtin profile composer on its own: sorting document lines, citing them, workflows."""

from __future__ import annotations

from phi_core_api.profiles.composer import classify_document_lines, compose_profile
from phi_core_api.profiles.generation import validate_profile
from phi_llm import BUILTIN_LABEL
from phi_llm.types import ChatRequest

FACTS = {
    "agent": {"name": "Ops Bot", "status": "ACTIVE"},
    "industry": {"key": "retail", "name": "Retail", "description": None},
    "role": {
        "key": "store_operations_analyst",
        "name": "Store Operations Analyst",
        "description": "Watches store KPIs.",
        "default_capabilities": ["kpi_review"],
        "default_tools": ["db"],
    },
    "tools": [{"key": "db", "name": "Database"}, {"key": "file", "name": "Files"}],
    "known_tools": ["browser", "cctv", "db", "email", "file"],
    "documents": [
        {
            "id": "11111111-1111-1111-1111-111111111111",
            "name": "ops-policy.pdf",
            "source_type": "POLICY",
            "chunks": [
                {
                    "text": "Refunds\n- Refunds above 200 EUR require approval from the store "
                    "manager.\n- Do not share customer personal data outside the company.",
                    "page": 3,
                    "page_end": 3,
                },
                {
                    "text": "Reporting\nCompile the weekly sales summary from the POS database "
                    "every Monday morning.",
                    "page": 4,
                },
            ],
        }
    ],
}


def test_lines_are_sorted_and_cited() -> None:
    found = classify_document_lines(FACTS["documents"])
    assert [x["text"] for x in found["rules"]] == [
        "Refunds above 200 EUR require approval from the store manager."
    ]
    assert [x["text"] for x in found["safety"]] == [
        "Do not share customer personal data outside the company."
    ]
    [duty] = found["duties"]
    assert duty["text"].startswith("Compile the weekly sales summary")
    assert duty["source"] == {
        "document_id": "11111111-1111-1111-1111-111111111111",
        "document": "ops-policy.pdf",
        "source_type": "POLICY",
        "page": 4,
        "page_end": None,
    }


def test_composed_profile_is_valid_and_labelled() -> None:
    composed = compose_profile(ChatRequest(model="builtin", messages=[], facts=FACTS))
    profile = validate_profile(composed, FACTS["known_tools"])
    assert profile.system_prompt.startswith("You are Ops Bot, a virtual Store Operations Analyst")
    assert (
        "Refunds above 200 EUR require approval from the store manager. [ops-policy.pdf, p. 3]"
        in (profile.system_prompt)
    )
    assert BUILTIN_LABEL in profile.system_prompt
    # "every Monday" in a duty is recurring work no workflow type runs: a suggestion at 09:00
    # (the documents state no working hours), not a made-up scheduled type; ASK is always there.
    assert {w.type: w.schedule for w in profile.workflows} == {"ASK": None}
    (suggestion,) = profile.schedule_suggestions
    assert (suggestion.type, suggestion.schedule) == (None, "0 9 * * 1")
    assert "every Monday" in suggestion.description and "no workflow type" in suggestion.reason
    assert "placeholder" in suggestion.reason  # 09:00 is not a time the documents state
    assert {r.tool for r in profile.tool_usage_rules} == {"db", "file"}
    # A duty that names the database is work to do, not a rule of how to use the tool.
    assert not any("POS database" in r.rule for r in profile.tool_usage_rules)
    assert "kpi review" in profile.capabilities


def test_composer_is_found_by_the_builtin_provider_through_its_entry_point() -> None:
    from phi_llm.providers.builtin import composer_for

    assert composer_for("generate_profile") is compose_profile


def test_deadline_cron_reads_times_from_duties() -> None:
    from phi_core_api.profiles.composer import deadline_cron

    assert deadline_cron("Send the stock report by 09:00 each morning.") == "0 8 * * *"
    assert deadline_cron("Have the summary ready before 6 pm.") == "0 17 * * *"
    assert deadline_cron("File it by 12:30.") == "30 11 * * *"
    assert deadline_cron("Meet at 3 with the team.") is None
    assert deadline_cron("Review it by 25:00.") is None


def test_a_daily_report_deadline_in_the_documents_sets_the_report_schedule() -> None:
    facts = {
        **FACTS,
        "role": {**FACTS["role"], "key": "warehouse_analyst", "name": "Warehouse Analyst"},
        "documents": [
            {
                "id": "22222222-2222-2222-2222-222222222222",
                "name": "jd.pdf",
                "source_type": "JD",
                "chunks": [
                    {
                        "text": "You are responsible for producing the daily stock report "
                        "by 07:30 each morning.",
                        "page": 1,
                    }
                ],
            }
        ],
    }
    composed = compose_profile(ChatRequest(model="builtin", messages=[], facts=facts))
    report = next(w for w in composed["workflows"] if w["type"] == "DAILY_WAREHOUSE_REPORT")
    assert report["schedule"] == "30 6 * * *"
    assert "jd.pdf" in report["description"]


def test_workflows_of_types_the_orchestrator_does_not_run_become_suggestions() -> None:
    """A model's invented type, a schedule on an on-request type and a cron that never comes
    are not config: the scheduler would skip them while the profile shows them enabled."""
    composed = compose_profile(ChatRequest(model="builtin", messages=[], facts=FACTS))
    composed["workflows"] = [
        {"type": "DAILY_WAREHOUSE_REPORT", "description": "The report.", "schedule": "0 17 * * *"},
        {"type": "MONTHLY_FIRST_WORKING_SEND", "description": "Send it.", "schedule": "0 9 1 * *"},
        {"type": "ASK", "description": "Answer questions.", "schedule": "0 8 * * *"},
    ]
    profile = validate_profile(composed, FACTS["known_tools"])
    assert [(w.type, w.schedule) for w in profile.workflows] == [
        ("DAILY_WAREHOUSE_REPORT", "0 17 * * *"),
        ("ASK", None),
    ]
    suggested = {s.type: s for s in profile.schedule_suggestions}
    assert (
        "no workflow type 'MONTHLY_FIRST_WORKING_SEND'"
        in suggested["MONTHLY_FIRST_WORKING_SEND"].reason
    )
    assert suggested["ASK"].schedule == "0 8 * * *" and "only on request" in suggested["ASK"].reason


def test_a_restored_builtin_prompt_loses_the_scheduled_work_that_was_moved() -> None:
    from phi_core_api.profiles.runnable import prompt_without_moved, runnable_profile

    old = {
        "workflows": [
            {"type": "DAILY_WAREHOUSE_REPORT", "description": "Report.", "schedule": "0 17 * * *"},
            {"type": "WEEKLY_COUNT_CAGES", "description": "Count.", "schedule": "0 9 * * 1"},
        ]
    }
    prompt = (
        "You are Bot.\n\nScheduled work:\n"
        "- DAILY_WAREHOUSE_REPORT at cron '0 17 * * *': Report.\n"
        "- WEEKLY_COUNT_CAGES at cron '0 9 * * 1': Count.\n\n(builtin)"
    )
    restored = runnable_profile(old)
    assert prompt_without_moved(prompt, old, restored) == (
        "You are Bot.\n\nScheduled work:\n"
        "- DAILY_WAREHOUSE_REPORT at cron '0 17 * * *': Report.\n\n(builtin)"
    )
    only_moved = {"workflows": old["workflows"][1:]}
    assert (
        prompt_without_moved(
            "You are Bot.\n\nScheduled work:\n- WEEKLY_COUNT_CAGES at cron '0 9 * * 1': Count.",
            only_moved,
            runnable_profile(only_moved),
        )
        == "You are Bot."
    )

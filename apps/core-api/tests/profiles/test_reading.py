"""Reading sections named by topic ("Appeals", "Closing the day") and the schedules a line
states; the labelled documents in bench/data/profiles measure the same reading at scale."""

from __future__ import annotations

from typing import Any

from phi_core_api.profiles.reading import read_documents


def _doc(text: str, source_type: str = "SOP") -> dict[str, Any]:
    return {"id": "d1", "name": "sop.md", "source_type": source_type, "chunks": [{"text": text}]}


SOP = """# Billing follow-up

Applies to the billing office.

## Patient balances

After insurance has paid, the remaining balance is billed to the patient. The coordinator \
schedules a call with every patient who owes more than a month.

## Appeals

Appeals over 5,000 dollars are reviewed by the manager before they are sent. The best \
available plan is the lowest plan on offer. The target denial rate is under 5%.

## Patient information

Anyone who suspects that patient information went to the wrong person reports it the same day.
"""


def test_a_topic_section_is_read_by_the_shape_of_its_sentences() -> None:
    reading = read_documents([_doc(SOP)])
    assert [d["text"] for d in reading.duties] == [
        # passive: a statement of work, not a rule or a description
        "After insurance has paid, the remaining balance is billed to the patient.",
        # a role doing the work
        "The coordinator schedules a call with every patient who owes more than a month.",
    ]
    # a limit ("over 5,000 dollars") makes a rule; a definition and a target are left out
    assert [r["text"] for r in reading.rules] == [
        "Appeals over 5,000 dollars are reviewed by the manager before they are sent."
    ]
    # protected data makes a safety line even with no rule word in it
    assert [s["text"] for s in reading.safety] == [
        "Anyone who suspects that patient information went to the wrong person reports it the "
        "same day."
    ]
    # the introduction under the title is not a line of work
    assert all("billing office" not in d["text"] for d in reading.duties)


def test_a_label_before_a_sentence_is_read_but_a_field_is_not() -> None:
    text = (
        "# Handbook\n\nIntro.\n\n## Dispositions\n\n"
        "- Scrap: parts are destroyed and booked against the line.\n"
        "- Reporting line: Supply Chain Manager\n"
    )
    reading = read_documents([_doc(text)])
    assert [d["text"] for d in reading.duties] == [
        "Scrap: parts are destroyed and booked against the line."
    ]


def _crons(line: str, source_type: str = "SOP") -> list[str]:
    text = f"# Procedure\n\nIntro.\n\n## Routine\n\n{line}\n"
    return [s.cron for s in read_documents([_doc(text, source_type)]).schedules]


def test_every_weekday_and_every_stated_time_is_a_schedule() -> None:
    assert _crons("The review board meets every Tuesday and Friday at 10:00.") == [
        "0 10 * * 2",
        "0 10 * * 5",
    ]
    # each weekday phrase keeps the time stated after it
    assert _crons(
        "The manager updates the forecast every Monday and chairs the meeting on Tuesday at 10:00."
    ) == ["0 9 * * 1", "0 10 * * 2"]
    assert _crons("The store issues goods twice a day, at 10:00 and at 16:00.") == [
        "0 10 * * *",
        "0 16 * * *",
    ]


def test_daily_and_monthly_work_stated_without_every_day() -> None:
    assert _crons("Daily: operators do the checklist at the start of the shift.") == ["0 9 * * *"]
    assert _crons("The rate is set daily by the revenue manager in the system.") == ["0 9 * * *"]
    # a daily deliverable with a deadline runs an hour before it
    assert _crons("The controller sends the daily cost flash to the chef by 10:00.") == [
        "0 9 * * *"
    ]
    assert _crons("The controller closes the month in the system by the 3rd working day.") == [
        "0 9 3 * *"
    ]


def test_an_adjective_alone_schedules_nothing() -> None:
    assert _crons("The report shows the average daily rate, due in the inbox by 07:00.") == []
    assert _crons("Check the daily and weekly driving time of every driver.") == []


def test_instructions_under_a_topic_heading() -> None:
    text = (
        "# Till procedure\n\nApplies to every store.\n\n## During the day\n\n"
        "Keep no more than 500 dollars in the till drawer. Cash up with a second person "
        "present. Never leave a till open unattended.\n"
    )
    reading = read_documents([_doc(text)])
    # an instruction that sets a limit is a rule; one that does not is a duty
    assert [r["text"] for r in reading.rules] == [
        "Keep no more than 500 dollars in the till drawer."
    ]
    assert [d["text"] for d in reading.duties] == ["Cash up with a second person present."]
    assert [s["text"] for s in reading.safety] == ["Never leave a till open unattended."]


NEW_USER_JD = """# Dispatch Manager

Northline Haulage Ltd

## Key responsibilities

The Operations Manager runs the day-to-day dispatch of the fleet.
- Review the daily run sheet at 07:30 with the planners.

## Standards

Northline Haulage Ltd.
- Subcontractors are used only from the approved haulier list.
"""


def test_sentences_keep_their_subject_and_a_name_is_not_a_rule() -> None:
    """Issue 16: "Operations" was taken for a heading run into its paragraph, leaving the duty
    "Manager runs the day-to-day dispatch…"; a company's name was filed as a rule."""
    reading = read_documents([_doc(NEW_USER_JD, "JD")])
    assert [d["text"] for d in reading.duties] == [
        "The Operations Manager runs the day-to-day dispatch of the fleet.",
        "Review the daily run sheet at 07:30 with the planners.",
    ]
    assert [r["text"] for r in reading.rules] == [
        "Subcontractors are used only from the approved haulier list."
    ]
    assert [s.cron for s in reading.schedules] == ["30 7 * * *"]


def test_a_line_with_weekly_and_daily_work_states_both() -> None:
    assert _crons(
        "The clerk downloads all cards every Monday morning and the analysis is reviewed "
        "daily by the manager."
    ) == ["0 9 * * 1", "0 9 * * *"]


def test_records_rules_are_read_and_falsifying_them_is_a_safety_line() -> None:
    reading = read_documents(
        [
            _doc(
                "# Tachograph procedure\n\nApplies to all drivers.\n\n## 4. Records\n\n"
                "Tachograph records must never be altered, deleted or falsified. All records "
                "are kept for at least one year.\n"
            )
        ]
    )
    assert [s["text"] for s in reading.safety] == [
        "Tachograph records must never be altered, deleted or falsified."
    ]
    assert [r["text"] for r in reading.rules] == ["All records are kept for at least one year."]


def test_an_abbreviation_does_not_end_a_sentence() -> None:
    reading = read_documents(
        [
            _doc(
                "# Dispatch\n\nApplies to the depot.\n\n## Responsibilities\n\n"
                "Raise late loads with Mrs. Okafor before the shift ends. Send the driver "
                "list to Harrow Vale Co. Drivers' hours go to the transport office.\n",
                "JD",
            )
        ]
    )
    assert [d["text"] for d in reading.duties] == [
        "Raise late loads with Mrs. Okafor before the shift ends.",
        # "Co." may end the sentence too: read as one line, nothing is cut off its subject
        "Send the driver list to Harrow Vale Co. Drivers' hours go to the transport office.",
    ]

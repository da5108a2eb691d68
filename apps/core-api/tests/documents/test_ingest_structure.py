"""Ingestion with a real worker: chunks follow the document's sections, the heading path is
searchable, and extraction limits end a document FAILED with the reason."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import psycopg
from core_factories import create_agent, create_org, signup
from document_api import upload, wait_done

SOP = """# Driver hours SOP

## Rules and standards

### Daily limits

Drivers may drive 9 hours a day, extended to 10 hours twice a week.

### Weekly limits

Drivers may not exceed 56 hours of driving in a week or 90 hours in any two weeks.

## Reporting

- The infringement summary goes to the operations director by the 5th of each month.
- Tachograph data is downloaded every 28 days.
"""


def test_chunks_follow_sections_and_the_heading_path_is_indexed(
    client: httpx.Client, live_server: Any, start_own_worker: Callable[..., Any]
) -> None:
    start_own_worker()
    owner = signup(client)
    org = create_org(client, owner)
    agent = create_agent(client, owner, org["id"])
    doc = upload(client, owner, SOP.encode(), "hours.md", agent_id=agent["id"]).json()
    assert wait_done(client, owner, doc)["status"] == "READY"
    with psycopg.connect(live_server.settings.libpq_database_url) as conn:
        rows = conn.execute(
            "SELECT chunk_text, metadata->'heading_path' FROM document_chunks "
            "WHERE document_id = %s ORDER BY chunk_index",
            (doc["id"],),
        ).fetchall()
        # The words of the heading path are in the full-text index, not in the shown text.
        weekly = conn.execute(
            "SELECT chunk_text FROM document_chunks WHERE document_id = %s "
            "AND search_text @@ websearch_to_tsquery('simple', 'rules standards weekly')",
            (doc["id"],),
        ).fetchall()
    assert [path for _, path in rows] == [
        ["Driver hours SOP", "Rules and standards", "Daily limits"],
        ["Driver hours SOP", "Rules and standards", "Weekly limits"],
        ["Driver hours SOP", "Reporting"],
    ]
    assert "56 hours" not in rows[0][0] and "56 hours" in rows[1][0]
    assert "Rules and standards" not in rows[1][0]
    assert [t for (t,) in weekly] == [rows[1][0]]
    # List items whole, under their section.
    assert "- The infringement summary goes to the operations director by the 5th" in rows[2][0]


def test_a_document_past_the_text_limit_fails_with_the_reason(
    client: httpx.Client, start_own_worker: Callable[..., Any]
) -> None:
    start_own_worker(PHI_MAX_EXTRACTED_CHARS="5000")
    owner = signup(client)
    org = create_org(client, owner)
    agent = create_agent(client, owner, org["id"])
    big = upload(
        client, owner, b"Check the seals on every trailer. " * 400, "big.txt", agent_id=agent["id"]
    ).json()
    small = upload(client, owner, b"Check the seals.", "small.txt", agent_id=agent["id"]).json()
    done = wait_done(client, owner, big)
    assert done["status"] == "FAILED"
    assert done["error"] == (
        "the document has more than 5,000 characters of text (the limit); "
        "split it into smaller files"
    )
    assert done["chunk_count"] == 0
    assert wait_done(client, owner, small)["status"] == "READY"

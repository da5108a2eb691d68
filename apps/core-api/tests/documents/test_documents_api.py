"""Upload -> background ingestion by a real worker process -> search, over real HTTP."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from core_factories import add_member, create_agent, create_org, signup
from document_api import search, upload, wait_done
from document_files import (
    make_blank_pages_pdf,
    make_docx,
    make_docx_bomb,
    make_pdf,
    make_png,
    make_scanned_pdf,
)

SOP_PAGES = [
    [
        "Receiving",
        "Every inbound pallet is checked against the advance shipping notice. "
        "Damaged cartons are photographed and set aside in the quarantine bay.",
    ],
    [
        "Put-away",
        "Pallets are put away to the location proposed by the scanner. "
        "Heavy items go to the lowest rack level.",
    ],
    [
        "Cold chain",
        "Chilled goods must be moved into the cold room within 20 minutes of "
        "unloading. The cold room stays between 2 and 5 degrees Celsius.",
    ],
    [
        "Dispatch",
        "Outbound trucks are loaded in reverse order of delivery stops. "
        "The driver signs the loading list before leaving the dock.",
    ],
    [
        "Incidents",
        "Any forklift collision is reported to the shift supervisor at once and "
        "recorded in the incident log before the end of the shift.",
    ],
]


@pytest.fixture(scope="module")
def worker(start_worker: Callable[..., Any]) -> Any:
    return start_worker(PHI_MAX_PDF_PAGES="50")


@pytest.fixture
def org_setup(client: httpx.Client) -> dict[str, Any]:
    owner = signup(client)
    org = create_org(client, owner)
    agent = create_agent(client, owner, org["id"])
    return {"owner": owner, "org": org, "agent": agent}


def test_pdf_upload_goes_ready_and_search_finds_the_right_page(
    client: httpx.Client, worker: Any, org_setup: dict[str, Any]
) -> None:
    owner, agent = org_setup["owner"], org_setup["agent"]
    r = upload(client, owner, make_pdf(SOP_PAGES), "warehouse-sop.pdf", agent_id=agent["id"])
    assert r.status_code == 202, r.text
    doc = r.json()
    assert doc["status"] == "PENDING"
    assert doc["content_type"] == "application/pdf"
    assert doc["size_bytes"] > 0 and len(doc["sha256"]) == 64
    done = wait_done(client, owner, doc)
    assert done["status"] == "READY", done["error"]
    assert done["page_count"] == 5
    assert done["chunk_count"] >= 1
    assert done["error"] is None

    listed = client.get(f"/agents/{agent['id']}/documents", headers=owner.headers).json()
    assert [(d["id"], d["name"], d["status"]) for d in listed] == [
        (doc["id"], "warehouse-sop.pdf", "READY")
    ]

    r = search(client, owner, agent["id"], "how quickly do refrigerated products need to go in")
    assert r.status_code == 200, r.text
    top = r.json()["results"][0]
    assert "cold room within 20 minutes" in top["text"]
    assert top["document_name"] == "warehouse-sop.pdf"
    assert top["source_type"] == "SOP"
    assert top["page"] == 3 or (top["page"] <= 3 <= top["page_end"])
    assert top["org_wide"] is False
    assert 0 < top["score"] <= 1


def test_docx_upload_and_heading_path_in_results(
    client: httpx.Client, worker: Any, org_setup: dict[str, Any]
) -> None:
    owner, agent = org_setup["owner"], org_setup["agent"]
    filler = "General rules apply to everyone in the building at all times. " * 12
    data = make_docx(
        [
            ("h1", "Safety policy"),
            ("p", filler),
            ("h2", "Personal protective equipment"),
            (
                "p",
                "Hi-vis vests and steel-toe boots are mandatory on the warehouse floor. "
                "Visitors receive a vest at reception. " + "Replace worn equipment. " * 20,
            ),
            ("h2", "Working at height"),
            ("p", "Ladders above two metres need a second person holding them. " * 8),
        ]
    )
    r = upload(client, owner, data, "safety.docx", agent_id=agent["id"], source_type="POLICY")
    assert r.status_code == 202, r.text
    done = wait_done(client, owner, r.json())
    assert done["status"] == "READY", done["error"]
    assert done["page_count"] is None

    hits = search(client, owner, agent["id"], "what must visitors wear?").json()["results"]
    assert "Hi-vis vests" in hits[0]["text"]
    assert hits[0]["heading_path"] == ["Safety policy", "Personal protective equipment"]
    assert hits[0]["source_type"] == "POLICY"


def test_org_wide_documents_scoping_and_source_type_filter(
    client: httpx.Client, worker: Any
) -> None:
    owner = signup(client)
    org = create_org(client, owner)
    agent_a = create_agent(client, owner, org["id"], name="A")
    agent_b = create_agent(client, owner, org["id"], name="B")
    other_owner = signup(client)
    other_org = create_org(client, other_owner, name="Other")
    other_agent = create_agent(client, other_owner, other_org["id"])

    docs = [
        upload(
            client,
            owner,
            b"Holiday requests go to HR two weeks ahead.",
            "hr.txt",
            org_id=org["id"],
            source_type="POLICY",
        ),
        upload(
            client,
            owner,
            b"Agent B only: the night shift starts at 22:00.",
            "b.txt",
            agent_id=agent_b["id"],
        ),
        upload(
            client,
            other_owner,
            b"Holiday requests go to the other company's HR.",
            "other.txt",
            agent_id=other_agent["id"],
            source_type="POLICY",
        ),
        upload(
            client,
            owner,
            b"# Agent A notes\n\nHoliday rota is pinned in the canteen.",
            "notes.md",
            agent_id=agent_a["id"],
            source_type="OTHER",
        ),
    ]
    for r in docs:
        assert r.status_code == 202, r.text
        assert (
            wait_done(client, owner if "other" not in r.json()["name"] else other_owner, r.json())[
                "status"
            ]
            == "READY"
        )

    hits = search(client, owner, agent_a["id"], "how do I request holidays", top_k=10).json()
    names = [h["document_name"] for h in hits["results"]]
    assert set(names) == {"hr.txt", "notes.md"}  # own + org-wide; not B's, not other org's
    assert next(h for h in hits["results"] if h["document_name"] == "hr.txt")["org_wide"]

    only_policy = search(client, owner, agent_a["id"], "holidays", source_types=["POLICY"])
    assert [h["document_name"] for h in only_policy.json()["results"]] == ["hr.txt"]

    org_list = client.get(f"/orgs/{org['id']}/documents", headers=owner.headers).json()
    assert [d["name"] for d in org_list] == ["hr.txt"]
    b_list = client.get(f"/agents/{agent_b['id']}/documents", headers=owner.headers).json()
    assert [d["name"] for d in b_list] == ["b.txt"]


def test_tenant_isolation_on_every_documents_route(
    client: httpx.Client, worker: Any, org_setup: dict[str, Any]
) -> None:
    owner, org, agent = org_setup["owner"], org_setup["org"], org_setup["agent"]
    agent_doc = upload(client, owner, b"secret agent text", "a.txt", agent_id=agent["id"]).json()
    org_doc = upload(client, owner, b"secret org text", "o.txt", org_id=org["id"]).json()
    outsider = signup(client)
    create_org(client, outsider, name="Outsider Inc")
    h = outsider.headers
    a, o = agent["id"], org["id"]
    requests = [
        (
            "POST",
            f"/agents/{a}/documents",
            {"files": {"file": ("x.txt", b"x")}, "data": {"source_type": "SOP"}},
        ),
        ("GET", f"/agents/{a}/documents", {}),
        ("GET", f"/agents/{a}/documents/{agent_doc['id']}", {}),
        ("DELETE", f"/agents/{a}/documents/{agent_doc['id']}", {}),
        (
            "POST",
            f"/orgs/{o}/documents",
            {"files": {"file": ("x.txt", b"x")}, "data": {"source_type": "SOP"}},
        ),
        ("GET", f"/orgs/{o}/documents", {}),
        ("GET", f"/orgs/{o}/documents/{org_doc['id']}", {}),
        ("DELETE", f"/orgs/{o}/documents/{org_doc['id']}", {}),
        ("POST", f"/agents/{a}/search-docs", {"json": {"query": "secret"}}),
    ]
    for method, path, kwargs in requests:
        r = client.request(method, path, headers=h, **kwargs)
        assert r.status_code == 404, (method, path, r.status_code, r.text)
    # A document reached through the wrong parent is not found either.
    r = client.get(f"/orgs/{o}/documents/{agent_doc['id']}", headers=owner.headers)
    assert r.status_code == 404
    # Nothing was touched.
    assert wait_done(client, owner, agent_doc)["status"] == "READY"
    assert wait_done(client, owner, org_doc)["status"] == "READY"


def test_members_read_but_only_admins_write(
    client: httpx.Client, worker: Any, org_setup: dict[str, Any]
) -> None:
    owner, org, agent = org_setup["owner"], org_setup["org"], org_setup["agent"]
    member = signup(client)
    add_member(client, owner, org["id"], member)
    doc = upload(client, owner, b"Shift handover at 06:00.", "h.txt", agent_id=agent["id"]).json()
    assert upload(client, member, b"x", "x.txt", agent_id=agent["id"]).status_code == 403
    assert upload(client, member, b"x", "x.txt", org_id=org["id"]).status_code == 403
    r = client.delete(f"/agents/{agent['id']}/documents/{doc['id']}", headers=member.headers)
    assert r.status_code == 403
    assert wait_done(client, member, doc)["status"] == "READY"
    assert search(client, member, agent["id"], "handover time").json()["results"]


def test_delete_removes_file_and_chunks(
    client: httpx.Client, worker: Any, live_server: Any, org_setup: dict[str, Any]
) -> None:
    owner, agent = org_setup["owner"], org_setup["agent"]
    doc = upload(
        client, owner, b"Forklift batteries are charged in bay 7.", "bat.txt", agent_id=agent["id"]
    ).json()
    assert wait_done(client, owner, doc)["status"] == "READY"
    files = Path(live_server.settings.data_dir) / "files" / doc["org_id"]
    assert [p.name for p in files.iterdir() if doc["id"] in p.name] == [f"{doc['id']}.txt"]
    assert search(client, owner, agent["id"], "where are batteries charged").json()["results"]

    r = client.delete(f"/agents/{agent['id']}/documents/{doc['id']}", headers=owner.headers)
    assert r.status_code == 204
    assert (
        client.get(
            f"/agents/{agent['id']}/documents/{doc['id']}", headers=owner.headers
        ).status_code
        == 404
    )
    assert not any(doc["id"] in p.name for p in files.iterdir())
    assert search(client, owner, agent["id"], "where are batteries charged").json()["results"] == []
    r = client.delete(f"/agents/{agent['id']}/documents/{doc['id']}", headers=owner.headers)
    assert r.status_code == 404


@pytest.mark.parametrize(
    ("data", "name", "detail"),
    [
        (make_png(), "scan.pdf", "binary"),
        (b"just words", "report.pdf", "named .pdf but its content is TXT"),
        (make_pdf([["a", "b"]]), "notes.txt", "content is PDF"),
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff", "tool.exe", "binary"),
        (b"plain", "slides.pptx", "unsupported file type .pptx"),
    ],
    # Named, not derived from the bytes: a generated PDF carries its creation time, and a
    # test id must be the same in every collection (pytest-xdist compares its workers').
    ids=["png-named-pdf", "text-named-pdf", "pdf-named-txt", "exe", "pptx"],
)
def test_unsupported_or_mislabelled_is_415_and_nothing_stored(
    client: httpx.Client, org_setup: dict[str, Any], data: bytes, name: str, detail: str
) -> None:
    owner, agent = org_setup["owner"], org_setup["agent"]
    r = upload(client, owner, data, name, agent_id=agent["id"])
    assert r.status_code == 415, r.text
    assert detail in r.json()["detail"]
    assert client.get(f"/agents/{agent['id']}/documents", headers=owner.headers).json() == []


def test_hostile_files_end_failed_and_service_keeps_working(
    client: httpx.Client, worker: Any, org_setup: dict[str, Any]
) -> None:
    owner, agent = org_setup["owner"], org_setup["agent"]
    good = upload(
        client, owner, b"Keep the fire exits clear at all times.", "fire.txt", agent_id=agent["id"]
    ).json()
    assert wait_done(client, owner, good)["status"] == "READY"

    cases = {
        "broken.pdf": (b"%PDF-1.7\n" + bytes(range(256)) * 40, "damaged"),
        "scanned.pdf": (make_scanned_pdf(), "no extractable text (scanned?)"),
        "huge.pdf": (make_blank_pages_pdf(60), "60 pages; the limit is 50"),
        "bomb.docx": (make_docx_bomb(inflated_bytes=210 * 1024 * 1024), "zip bomb"),
    }
    uploaded = {}
    for name, (data, _) in cases.items():
        r = upload(client, owner, data, name, agent_id=agent["id"])
        assert r.status_code == 202, (name, r.text)
        uploaded[name] = r.json()
    for name, doc in uploaded.items():
        done = wait_done(client, owner, doc)
        assert done["status"] == "FAILED", (name, done)
        assert cases[name][1] in done["error"], (name, done["error"])
        assert done["chunk_count"] == 0

    # The worker is still alive and the API still serves; earlier data is intact.
    assert worker.proc.poll() is None
    after = upload(
        client, owner, b"Visitors sign in at reception.", "visitors.txt", agent_id=agent["id"]
    ).json()
    assert wait_done(client, owner, after)["status"] == "READY"
    hits = search(client, owner, agent["id"], "fire exits", top_k=3).json()["results"]
    assert hits[0]["document_name"] == "fire.txt"


@pytest.mark.parametrize(
    "body",
    [
        {"query": ""},
        {"query": "   "},
        {"query": "x", "top_k": 0},
        {"query": "x", "top_k": 51},
        {"query": "x", "source_types": ["MEMO"]},
        {"query": "x", "source_types": []},
        {"top_k": 3},
    ],
)
def test_bad_search_input_is_422(
    client: httpx.Client, org_setup: dict[str, Any], body: dict[str, Any]
) -> None:
    owner, agent = org_setup["owner"], org_setup["agent"]
    r = client.post(f"/agents/{agent['id']}/search-docs", json=body, headers=owner.headers)
    assert r.status_code == 422, r.text


def test_bad_upload_form_is_422(client: httpx.Client, org_setup: dict[str, Any]) -> None:
    owner, agent = org_setup["owner"], org_setup["agent"]
    r = upload(client, owner, b"text", "a.txt", agent_id=agent["id"], source_type="MEMO")
    assert r.status_code == 422
    assert "source_type" in r.text
    r = client.post(
        f"/agents/{agent['id']}/documents", data={"source_type": "SOP"}, headers=owner.headers
    )
    assert r.status_code == 422
    assert "file" in r.text


def _listed(client: httpx.Client, owner: Any, agent: dict[str, Any]) -> list[dict[str, Any]]:
    r = client.get(f"/agents/{agent['id']}/documents", headers=owner.headers)
    assert r.status_code == 200, r.text
    return list(r.json())


def test_same_file_again_in_the_same_scope_is_409_naming_the_document(
    client: httpx.Client, worker: Any, org_setup: dict[str, Any]
) -> None:
    owner, org, agent = org_setup["owner"], org_setup["org"], org_setup["agent"]
    other_agent = create_agent(client, owner, org["id"])
    data = b"Trailers are sealed before they leave dock 4."
    first = upload(client, owner, data, "seal.txt", agent_id=agent["id"])
    assert first.status_code == 202, first.text
    doc_id = first.json()["id"]

    again = upload(client, owner, data, "seal-copy.txt", agent_id=agent["id"])
    assert again.status_code == 409, again.text
    assert doc_id in again.json()["detail"]
    assert again.headers["location"] == f"/agents/{agent['id']}/documents/{doc_id}"
    assert [d["id"] for d in _listed(client, owner, agent)] == [doc_id]

    # Another agent, or the org-wide scope, may hold the same file once each.
    assert upload(client, owner, data, "seal.txt", agent_id=other_agent["id"]).status_code == 202
    org_wide = upload(client, owner, data, "seal.txt", org_id=org["id"])
    assert org_wide.status_code == 202
    org_again = upload(client, owner, data, "seal.txt", org_id=org["id"])
    assert org_again.status_code == 409
    assert org_again.headers["location"] == f"/orgs/{org['id']}/documents/{org_wide.json()['id']}"

    # Once READY, still one set of chunks: search returns the sentence once.
    assert wait_done(client, owner, first.json())["status"] == "READY"
    assert wait_done(client, owner, org_wide.json())["status"] == "READY"
    hits = search(client, owner, agent["id"], "when are trailers sealed").json()["results"]
    assert sorted(h["org_wide"] for h in hits if "dock 4" in h["text"]) == [False, True]


def test_same_file_uploaded_twice_at_once_is_stored_once(
    client: httpx.Client, org_setup: dict[str, Any]
) -> None:
    owner, agent = org_setup["owner"], org_setup["agent"]
    data = b"Two people lift anything over 25 kg."

    def send(_: int) -> int:
        with httpx.Client(base_url=str(client.base_url), timeout=30) as c:
            return upload(c, owner, data, "lift.txt", agent_id=agent["id"]).status_code

    with ThreadPoolExecutor(4) as pool:
        codes = sorted(pool.map(send, range(4)))
    assert codes == [202, 409, 409, 409]
    assert len(_listed(client, owner, agent)) == 1


def test_a_failed_document_does_not_block_uploading_the_file_again(
    client: httpx.Client, worker: Any, org_setup: dict[str, Any]
) -> None:
    owner, agent = org_setup["owner"], org_setup["agent"]
    scanned = make_scanned_pdf()
    failed = upload(client, owner, scanned, "scan.pdf", agent_id=agent["id"]).json()
    assert wait_done(client, owner, failed)["status"] == "FAILED"
    assert upload(client, owner, scanned, "scan.pdf", agent_id=agent["id"]).status_code == 202


def test_empty_file_is_422_at_once_and_nothing_stored(
    client: httpx.Client, live_server: Any, org_setup: dict[str, Any]
) -> None:
    owner, org, agent = org_setup["owner"], org_setup["org"], org_setup["agent"]
    r = upload(client, owner, b"", "empty.txt", agent_id=agent["id"])
    assert r.status_code == 422, r.text
    assert "empty (0 bytes)" in r.json()["detail"]
    assert upload(client, owner, b"", "empty.pdf", org_id=org["id"]).status_code == 422
    assert _listed(client, owner, agent) == []
    assert not (Path(live_server.settings.data_dir) / "files" / org["id"]).exists()


def test_two_file_parts_in_one_upload_is_422(
    client: httpx.Client, org_setup: dict[str, Any]
) -> None:
    owner, org, agent = org_setup["owner"], org_setup["org"], org_setup["agent"]
    files = [
        ("file", ("a.txt", b"first file", "text/plain")),
        ("file", ("b.txt", b"second file", "text/plain")),
    ]
    for path in (f"/agents/{agent['id']}/documents", f"/orgs/{org['id']}/documents"):
        r = client.post(path, files=files, data={"source_type": "SOP"}, headers=owner.headers)
        assert r.status_code == 422, r.text
        assert "one file per upload" in r.json()["detail"]
    assert _listed(client, owner, agent) == []


@pytest.mark.parametrize("name", [".", "..", "/", "//", "a/..", "./.", "...", " . "])
def test_file_names_that_are_not_names_are_422(
    client: httpx.Client, org_setup: dict[str, Any], name: str
) -> None:
    owner, agent = org_setup["owner"], org_setup["agent"]
    r = upload(client, owner, b"Gate closes at 22:00.", name, agent_id=agent["id"])
    assert r.status_code == 422, (name, r.text)
    assert "name" in r.json()["detail"]
    assert _listed(client, owner, agent) == []


def test_oversized_upload_is_413_before_storing(
    client: httpx.Client, start_server: Callable[..., Any], org_setup: dict[str, Any]
) -> None:
    owner, agent = org_setup["owner"], org_setup["agent"]
    small = start_server(max_upload_bytes=200_000)
    big = b"a" * 300_000
    with httpx.Client(base_url=small.url, timeout=30) as c:
        r = upload(c, owner, big, "big.txt", agent_id=agent["id"])
        assert r.status_code == 413, r.text
        assert "upload limit" in r.json()["detail"]
        # Just over the file limit but within the multipart allowance: refused after parsing.
        r = upload(c, owner, b"a" * 200_001, "edge.txt", agent_id=agent["id"])
        assert r.status_code == 413, r.text

        # Without Content-Length (chunked), the body is cut off while it streams.
        boundary = "phi-test-boundary"

        def body() -> Any:
            yield (
                f'--{boundary}\r\nContent-Disposition: form-data; name="source_type"\r\n\r\n'
                f'SOP\r\n--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="big.txt"\r\nContent-Type: text/plain\r\n\r\n'
            ).encode()
            for _ in range(30):
                yield b"a" * 10_000
            yield f"\r\n--{boundary}--\r\n".encode()

        r = c.post(
            f"/agents/{agent['id']}/documents",
            content=body(),
            headers={**owner.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        assert r.status_code == 413, r.text
        # A file under the limit still goes through this server.
        assert upload(c, owner, b"fine", "ok.txt", agent_id=agent["id"]).status_code == 202
    names = [
        d["name"]
        for d in client.get(f"/agents/{agent['id']}/documents", headers=owner.headers).json()
    ]
    assert names == ["ok.txt"]

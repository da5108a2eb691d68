"""Deleting an organization or an agent removes its stored files, and only its own."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from core_factories import create_agent, create_org, signup
from document_api import upload, wait_done

from phi_core_api.documents.file_cleanup import sweep_orphan_files
from phi_core_api.storage import LocalFileStorage


@pytest.fixture(scope="module")
def worker(start_worker: Callable[..., Any]) -> Any:
    return start_worker()


def _files(live_server: Any) -> Path:
    return Path(live_server.settings.data_dir) / "files"


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()} if folder.is_dir() else {}


def _org_with_documents(client: httpx.Client, tag: str) -> dict[str, Any]:
    owner = signup(client)
    org = create_org(client, owner)
    agents = [create_agent(client, owner, org["id"]) for _ in range(2)]
    docs = [
        upload(
            client,
            owner,
            f"{tag}: agent {i} unloads bay {i}.".encode(),
            f"a{i}.txt",
            agent_id=agent["id"],
        ).json()
        for i, agent in enumerate(agents)
    ]
    docs.append(
        upload(client, owner, f"{tag}: site rules.".encode(), "r.txt", org_id=org["id"]).json()
    )
    for doc in docs:
        assert wait_done(client, owner, doc)["status"] == "READY"
    return {"owner": owner, "org": org, "agents": agents, "docs": docs}


def _wait_until(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"waited {timeout}s for {what}"
        time.sleep(0.1)


def test_deleting_an_org_removes_its_files_and_no_one_elses(
    client: httpx.Client, worker: Any, live_server: Any
) -> None:
    doomed = _org_with_documents(client, "doomed")
    kept = _org_with_documents(client, "kept")
    doomed_dir = _files(live_server) / doomed["org"]["id"]
    kept_dir = _files(live_server) / kept["org"]["id"]
    assert len(_snapshot(doomed_dir)) == 3
    kept_before = _snapshot(kept_dir)
    assert len(kept_before) == 3

    r = client.delete(f"/orgs/{doomed['org']['id']}", headers=doomed["owner"].headers)
    assert r.status_code == 204
    _wait_until(lambda: not doomed_dir.exists(), "the deleted organization's files to go")
    assert _snapshot(kept_dir) == kept_before


def test_deleting_an_agent_removes_its_files_only(
    client: httpx.Client, worker: Any, live_server: Any
) -> None:
    org = _org_with_documents(client, "agents")
    folder = _files(live_server) / org["org"]["id"]
    gone_agent, kept_agent = org["agents"]
    gone_doc, kept_doc, org_doc = org["docs"]
    before = _snapshot(folder)

    r = client.delete(f"/agents/{gone_agent['id']}", headers=org["owner"].headers)
    assert r.status_code == 204
    _wait_until(
        lambda: not any(name.startswith(gone_doc["id"]) for name in _snapshot(folder)),
        "the deleted agent's file to go",
    )
    after = _snapshot(folder)
    assert after == {k: v for k, v in before.items() if not k.startswith(gone_doc["id"])}
    assert {k.split(".")[0] for k in after} == {kept_doc["id"], org_doc["id"]}


def test_sweep_removes_files_without_rows_once_they_are_old(
    client: httpx.Client, worker: Any, live_server: Any, database_url: str
) -> None:
    org = _org_with_documents(client, "sweep")
    files = _files(live_server)
    folder = files / org["org"]["id"]
    real = _snapshot(folder)
    old = time.time() - 7200
    stale = folder / f"{uuid.uuid4()}.txt"  # a row that never committed, long ago
    stale.write_bytes(b"stale")
    os.utime(stale, (old, old))
    interrupted = folder / ".upload-abc123"
    interrupted.write_bytes(b"half")
    os.utime(interrupted, (old, old))
    fresh = folder / f"{uuid.uuid4()}.txt"  # an upload whose row may be about to commit
    fresh.write_bytes(b"fresh")
    ghost_org = files / str(uuid.uuid4())
    ghost_org.mkdir()
    (ghost_org / f"{uuid.uuid4()}.pdf").write_bytes(b"%PDF")
    not_ours = files / "README"
    not_ours.write_text("left by an operator")

    with psycopg.connect(database_url.replace("+psycopg", "")) as conn:
        removed = sweep_orphan_files(conn, LocalFileStorage(files))

    assert removed >= 3
    assert not stale.exists() and not interrupted.exists() and not ghost_org.exists()
    assert fresh.exists() and not_ours.exists()
    assert {k: v for k, v in _snapshot(folder).items() if k != fresh.name} == real
    not_ours.unlink()
    fresh.unlink()

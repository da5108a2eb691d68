"""Documents in an S3-compatible object store (moto's S3 server, a real HTTP API): uploads
stream into the bucket under the organization's id, workers read from it, deletes and the
orphan sweep clean it, and `phi-documents migrate-storage` copies a local folder into it."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from core_factories import create_agent, create_org, signup
from document_api import search, upload, wait_done

from phi_core_api.documents.file_cleanup import sweep_orphan_files
from phi_core_api.storage import StorageConfigError, storage_from_url
from phi_platform.embedded_pg import free_port
from phi_platform.testing import migrated_database
from phi_service.testing import LiveServer, WorkerProcess

PREFIX = "tenants"


@pytest.fixture(scope="module")
def bucket(s3_server: Any) -> str:
    return str(s3_server.new_bucket())


@pytest.fixture(scope="module")
def s3_api(start_server: Callable[..., LiveServer], bucket: str) -> LiveServer:
    return start_server(storage_url=f"s3://{bucket}/{PREFIX}")


@pytest.fixture(scope="module")
def s3_worker(s3_api: LiveServer, bucket: str) -> Iterator[WorkerProcess]:
    settings = s3_api.settings
    env = dict(os.environ)  # carries the AWS_* variables of the moto server
    env.update(
        {
            "DATABASE_URL": settings.database_url,
            "PHI_DATA_DIR": str(settings.data_dir),
            "PHI_STORAGE_URL": f"s3://{bucket}/{PREFIX}",
            "PYTHONUNBUFFERED": "1",
        }
    )
    worker = WorkerProcess("phi_core_api.worker", env, ready_marker="worker ready").wait_ready()
    yield worker
    worker.stop(20)


@pytest.fixture
def client(s3_api: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=s3_api.url, timeout=60) as c:
        yield c


def _wait_until(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"waited {timeout}s for {what}"
        time.sleep(0.1)


def test_a_large_upload_streams_into_the_bucket(
    s3_server: Any, bucket: str, s3_api: LiveServer, tmp_path: Path
) -> None:
    """A real API process takes a 96 MB upload while its peak memory grows by far less than
    the file: the body goes from the request's spooled file to the store in parts."""
    size = 96 * 1024 * 1024
    port = free_port()
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": s3_api.settings.database_url,
            "PHI_DATA_DIR": str(tmp_path),
            "PHI_JWT_SECRET": s3_api.settings.jwt_secret or "",
            "PHI_CORE_API_PORT": str(port),
            "PHI_STORAGE_URL": f"s3://{bucket}/{PREFIX}",
            "PHI_MAX_UPLOAD_BYTES": str(size + 1024),
            "PHI_SIGNUP_MAX_EXISTING_PER_ADDRESS": "1000000",
            "PYTHONUNBUFFERED": "1",
        }
    )
    api = WorkerProcess("phi_core_api.main", env, ready_marker="Application startup complete")
    try:
        api.wait_ready(120)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=300) as client:
            owner = signup(client)
            org = create_org(client, owner)
            line = b"Row 0001: pallet moved from dock 3 to aisle 12, checked by the shift lead.\n"
            data = line * (size // len(line))
            before = _peak_rss(api.proc.pid)
            r = upload(client, owner, data, "big-log.txt", org_id=org["id"])
            assert r.status_code == 202, r.text
            grown = _peak_rss(api.proc.pid) - before
        doc = r.json()
        key = f"{PREFIX}/{org['id']}/{doc['id']}.txt"
        stored = s3_server.client().get_object(Bucket=bucket, Key=key)["Body"].read()
        assert hashlib.sha256(stored).hexdigest() == hashlib.sha256(data).hexdigest()
        assert doc["size_bytes"] == len(data)
        del stored, data
        assert grown < 40 * 1024 * 1024, f"the API's peak memory grew by {grown >> 20} MB"
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            # No worker needs to chew through it (and its queued job goes with it).
            gone = client.delete(f"/orgs/{org['id']}/documents/{doc['id']}", headers=owner.headers)
            assert gone.status_code == 204
    finally:
        api.stop(10)


def _peak_rss(pid: int) -> int:
    """The process's peak resident memory so far (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc status")


def test_documents_live_in_the_bucket_under_their_organization(
    client: httpx.Client, s3_worker: Any, s3_server: Any, bucket: str, s3_api: LiveServer
) -> None:
    owner = signup(client)
    org = create_org(client, owner)
    agent = create_agent(client, owner, org["id"])
    text = b"Cold-chain SOP: chilled pallets go into the cold room within 20 minutes."
    doc = upload(client, owner, text, "cold.txt", agent_id=agent["id"]).json()
    key = f"{PREFIX}/{org['id']}/{doc['id']}.txt"
    assert key in s3_server.keys(bucket)
    assert s3_server.client().get_object(Bucket=bucket, Key=key)["Body"].read() == text
    # Nothing of it on the API's local disk.
    assert not (Path(s3_api.settings.data_dir) / "files" / org["id"]).exists()

    assert wait_done(client, owner, doc)["status"] == "READY"  # the worker read the bucket
    hits = search(client, owner, agent["id"], "how fast must chilled pallets be stored").json()
    assert hits["results"][0]["document_name"] == "cold.txt"

    r = client.delete(f"/agents/{agent['id']}/documents/{doc['id']}", headers=owner.headers)
    assert r.status_code == 204
    assert key not in s3_server.keys(bucket)

    # Deleting the organization empties its folder (the worker's removal job), no one else's.
    other_owner = signup(client)
    other = create_org(client, other_owner)
    kept = upload(client, other_owner, b"Keep me.", "k.txt", org_id=other["id"]).json()
    upload(client, owner, b"Site rules: hi-vis vests.", "r.txt", org_id=org["id"])
    assert any(k.startswith(f"{PREFIX}/{org['id']}/") for k in s3_server.keys(bucket))
    assert client.delete(f"/orgs/{org['id']}", headers=owner.headers).status_code == 204
    _wait_until(
        lambda: not any(k.startswith(f"{PREFIX}/{org['id']}/") for k in s3_server.keys(bucket)),
        "the deleted organization's objects to go",
    )
    assert f"{PREFIX}/{other['id']}/{kept['id']}.txt" in s3_server.keys(bucket)


def test_orphan_sweep_in_the_bucket_removes_only_orphans(
    client: httpx.Client, s3_server: Any, bucket: str, s3_api: LiveServer
) -> None:
    owner = signup(client)
    org = create_org(client, owner)
    doc = upload(client, owner, b"Dock 4 closes at 18:00.", "dock.txt", org_id=org["id"]).json()
    s3 = s3_server.client()
    live = f"{PREFIX}/{org['id']}/{doc['id']}.txt"
    orphan = f"{PREFIX}/{org['id']}/{uuid.uuid4()}.txt"  # a row that never committed
    ghost_org = f"{PREFIX}/{uuid.uuid4()}/{uuid.uuid4()}.pdf"  # an organization gone
    not_ours = [f"{PREFIX}/README", f"{PREFIX}/backups/x.txt", "elsewhere/y.txt"]
    for key in [orphan, ghost_org, *not_ours]:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")

    storage = storage_from_url(f"s3://{bucket}/{PREFIX}", Path(s3_api.settings.data_dir))
    url = s3_api.settings.database_url.replace("+psycopg", "")
    with psycopg.connect(url) as conn:
        # Within the grace period only the dead organization's folder goes.
        assert sweep_orphan_files(conn, storage, grace_seconds=3600) == 1
        assert orphan in s3_server.keys(bucket)
        assert sweep_orphan_files(conn, storage, grace_seconds=0) >= 1
    keys = s3_server.keys(bucket)
    assert live in keys and orphan not in keys and ghost_org not in keys
    assert set(not_ours) <= set(keys)


def test_migrate_storage_copies_local_files_and_verifies_them(
    s3_server: Any, start_server: Callable[..., LiveServer], pg_server: Any, tmp_path: Path
) -> None:
    """Files uploaded to the local folder are copied into the bucket, each checked against
    the checksum taken at upload; a changed or missing local file is reported, not copied.
    A database of its own: every document row of the database is migrated."""
    database = migrated_database(pg_server, f"phi_migrate_{uuid.uuid4().hex[:6]}")
    live_server = start_server(database_url=database, data_dir=tmp_path)
    with httpx.Client(base_url=live_server.url, timeout=60) as client:
        owner = signup(client)
        org = create_org(client, owner)
        docs = [
            upload(client, owner, f"Migrated SOP {i}.".encode(), f"m{i}.txt", org_id=org["id"])
            for i in range(3)
        ]
    docs_json = [r.json() for r in docs]
    files = Path(live_server.settings.data_dir) / "files"
    target = s3_server.new_bucket("migrated")

    def run() -> subprocess.CompletedProcess[str]:
        env = dict(os.environ)
        env.update(
            {
                "DATABASE_URL": live_server.settings.database_url,
                "PHI_DATA_DIR": str(live_server.settings.data_dir),
            }
        )
        return subprocess.run(
            [sys.executable, "-m", "phi_core_api.documents.cli", "migrate-storage"]
            + ["--to", f"s3://{target}/docs"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    first = run()
    assert first.returncode == 0, first.stdout + first.stderr
    keys = s3_server.keys(target)
    for doc in docs_json:
        key = f"{org['id']}/{doc['id']}.txt"
        assert f"docs/{key}" in keys
        body = s3_server.client().get_object(Bucket=target, Key=f"docs/{key}")["Body"].read()
        assert body == (files / key).read_bytes()

    # Again: nothing to copy. A local file changed since upload, and one gone, are reported.
    (files / f"{org['id']}/{docs_json[0]['id']}.txt").write_bytes(b"tampered")
    s3_server.client().delete_object(
        Bucket=target, Key=f"docs/{org['id']}/{docs_json[0]['id']}.txt"
    )
    (files / f"{org['id']}/{docs_json[1]['id']}.txt").unlink()
    s3_server.client().delete_object(
        Bucket=target, Key=f"docs/{org['id']}/{docs_json[1]['id']}.txt"
    )
    second = run()
    assert second.returncode == 1
    assert f"{docs_json[0]['id']}.txt" in second.stdout and "differs" in second.stdout
    assert f"missing: {org['id']}/{docs_json[1]['id']}.txt" in second.stdout
    assert f"docs/{org['id']}/{docs_json[0]['id']}.txt" not in s3_server.keys(target)


def test_a_bad_storage_url_is_refused_with_the_reason(tmp_path: Path, s3_server: Any) -> None:
    with pytest.raises(StorageConfigError, match="unsupported scheme 'gs'"):
        storage_from_url("gs://bucket/x", tmp_path)
    with pytest.raises(StorageConfigError, match="name the bucket"):
        storage_from_url("s3:///x", tmp_path)
    missing = storage_from_url(f"s3://no-such-bucket-{uuid.uuid4().hex[:6]}", tmp_path)
    with pytest.raises(StorageConfigError, match="no-such-bucket"):
        missing.check()  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="invalid storage key"):
        storage_from_url(f"s3://{s3_server.new_bucket()}/p", tmp_path).save("../x", b"")

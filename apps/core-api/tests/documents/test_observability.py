"""What an operator sees: request ids, the same ids in the worker's JSON log lines for the job
a request queued, Prometheus metrics, health and readiness."""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Callable
from typing import Any

import httpx
from core_factories import create_agent, create_org, signup
from document_api import wait_done


def test_request_id_is_taken_or_made_and_returned(client: httpx.Client) -> None:
    r = client.get("/health", headers={"X-Request-ID": "ops-check.42"})
    assert r.status_code == 200 and r.headers["X-Request-ID"] == "ops-check.42"
    made = client.get("/health").headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    # An id that could break a log line is replaced, not repeated.
    assert client.get("/health", headers={"X-Request-ID": 'a b"c'}).headers["X-Request-ID"] != (
        'a b"c'
    )


def test_ready_checks_database_and_migrations(client: httpx.Client) -> None:
    r = client.get("/ready")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ok"}


def test_metrics_count_requests_by_route_template(client: httpx.Client) -> None:
    owner = signup(client)
    org = create_org(client, owner)
    for _ in range(3):
        assert client.get(f"/orgs/{org['id']}/agents", headers=owner.headers).status_code == 200
    text = client.get("/metrics").text
    line = next(
        line
        for line in text.splitlines()
        if line.startswith("phi_http_requests_total{")
        and 'route="/orgs/{org_id}/agents"' in line
        and 'status="200"' in line
        and 'method="GET"' in line
    )
    assert float(line.rsplit(" ", 1)[1]) >= 3
    assert "phi_http_request_duration_seconds_bucket{" in text
    assert "phi_queue_jobs" in text


def test_worker_logs_carry_the_ids_of_the_request_that_queued_the_job(
    client: httpx.Client, start_own_worker: Callable[..., Any]
) -> None:
    worker = start_own_worker(PHI_WORKER_METRICS_PORT="0")
    owner = signup(client)
    org = create_org(client, owner)
    agent = create_agent(client, owner, org["id"])
    r = client.post(
        f"/agents/{agent['id']}/documents",
        files={"file": ("seal.txt", b"Check the seal on every trailer.", "text/plain")},
        data={"source_type": "SOP"},
        headers={**owner.headers, "X-Request-ID": "upload-7f3a"},
    )
    assert r.status_code == 202 and r.headers["X-Request-ID"] == "upload-7f3a"
    doc = r.json()
    assert wait_done(client, owner, doc)["status"] == "READY"
    deadline = time.monotonic() + 10
    while True:
        lines = [json.loads(line) for line in worker.lines if line.startswith("{")]
        about = [line for line in lines if line.get("request_id") == "upload-7f3a"]
        if any("READY" in line["msg"] for line in about):
            break
        assert time.monotonic() < deadline, worker.output[-3000:]
        time.sleep(0.2)
    for line in about:
        assert line["org_id"] == org["id"] and line["agent_id"] == agent["id"]
        assert line["document_id"] == doc["id"]
        assert line["job_id"] and line["task"] == "documents:ingest_document"
    # Every line of the worker is JSON.
    assert all(line.startswith("{") for line in worker.lines if line.strip())


def test_a_worker_whose_health_port_is_taken_still_runs_jobs(
    client: httpx.Client, start_own_worker: Callable[..., Any]
) -> None:
    # Another stack on the machine (`make dev`) holds the port this worker is told to use.
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        worker = start_own_worker(PHI_WORKER_METRICS_PORT=str(port))
        owner = signup(client)
        org = create_org(client, owner)
        agent = create_agent(client, owner, org["id"])
        r = client.post(
            f"/agents/{agent['id']}/documents",
            files={"file": ("seal.txt", b"Check the seal on every trailer.", "text/plain")},
            data={"source_type": "SOP"},
            headers=owner.headers,
        )
        assert r.status_code == 202, r.text
        assert wait_done(client, owner, r.json())["status"] == "READY", worker.output[-3000:]
        assert worker.proc.poll() is None, worker.output[-3000:]
        assert f"port {port} is not free" in worker.output
        assert r.json()["id"] in worker.output  # this worker ingested it

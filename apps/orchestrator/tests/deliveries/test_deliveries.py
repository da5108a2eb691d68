"""Delivering a report to real receivers the test starts: an SMTP server (aiosmtpd) and an
HTTP receiver that checks X-Phi-Signature. Real worker processes, real PostgreSQL."""

from __future__ import annotations

import email
import hashlib
import hmac
import html
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from email.message import Message
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from orch_factories import Tenant, make_tenant, run_task, sql, wait_task

from phi_orchestrator.deliveries.attempts import _CREATE_FOR_TASK
from phi_orchestrator.main import create_app
from phi_orchestrator.settings import OrchestratorSettings
from phi_platform.embedded_pg import free_port
from phi_service.testing import LiveServer, WorkerProcess

DAY = "2026-11-24"
OUT = Path(__file__).resolve().parents[4] / ".phi" / "delivery-artifacts"


class SmtpInbox:
    """aiosmtpd's handler: keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append((list(envelope.rcpt_tos), bytes(envelope.original_content)))
        return "250 OK"


class Receiver:
    """An HTTP receiver: per path, the statuses to answer in turn (then 200); records every
    request; ``hold`` keeps the first request of a path open until ``release`` is set."""

    def __init__(self) -> None:
        self.script: dict[str, list[int]] = {}
        self.requests: list[dict[str, Any]] = []
        self.hold: set[str] = set()
        self.held = threading.Event()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                if self.path in receiver.hold:
                    receiver.hold.discard(self.path)
                    receiver.held.set()
                    receiver.release.wait(60)
                statuses = receiver.script.get(self.path) or []
                status = statuses.pop(0) if statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def of(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"] == path]


@pytest.fixture(scope="module")
def inbox() -> Iterator[tuple[SmtpInbox, int]]:
    handler = SmtpInbox()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.release.set()
    r.server.shutdown()


def delivery_settings(smtp_port: int) -> dict[str, Any]:
    return {
        "smtp_url": f"smtp://127.0.0.1:{smtp_port}",
        "smtp_from": "Phi Reports <reports@phi.test>",
        "webhook_allowed_networks": "127.0.0.0/8",
        "delivery_retry_base_seconds": 0.2,
        "public_web_url": "http://web.test",
    }


@pytest.fixture(scope="module")
def dapi(
    orch_settings: Callable[..., OrchestratorSettings], inbox: tuple[SmtpInbox, int]
) -> Iterator[httpx.Client]:
    """An orchestrator that lets webhooks reach loopback (the receivers here)."""
    settings = orch_settings(**delivery_settings(inbox[1]))
    server = LiveServer(create_app(settings), settings).start()
    with httpx.Client(base_url=server.url, timeout=60) as client:
        yield client
    server.stop()


def add(api: httpx.Client, tenant: Tenant, **body: Any) -> dict[str, Any]:
    r = api.post(
        f"/agents/{tenant.agent_id}/deliver-to",
        json={"workflow_type": "DAILY_WAREHOUSE_REPORT", **body},
        headers=tenant.owner.headers,
    )
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def rotate(api: httpx.Client, tenant: Tenant, destination_id: str) -> dict[str, Any]:
    r = api.post(
        f"/agents/{tenant.agent_id}/deliver-to/{destination_id}/rotate-secret",
        headers=tenant.owner.headers,
    )
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def wait_deliveries(
    api: httpx.Client, tenant: Tenant, task_id: str, done: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 90
    while True:
        r = api.get(f"/tasks/{task_id}/deliveries", headers=tenant.owner.headers)
        assert r.status_code == 200, r.text
        if done(r.json()):
            return r.json()  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, r.json()
        time.sleep(0.3)


def verify(secret: str, request: dict[str, Any]) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), request["body"], hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, request["headers"].get("X-Phi-Signature", ""))


def test_report_reaches_email_and_webhooks_with_retries(
    dapi: httpx.Client,
    database_url: str,
    inbox: tuple[SmtpInbox, int],
    receiver: Receiver,
    start_worker: Callable[..., WorkerProcess],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    worker = start_worker(**delivery_settings(inbox[1]))
    tenant = make_tenant(database_url)
    add(dapi, tenant, email="ops@example.com")
    hook = add(dapi, tenant, webhook_url=f"{receiver.url}/hook")
    slack = add(dapi, tenant, webhook_url=f"{receiver.url}/slack", format="slack")
    assert hook["secret"].startswith("whsec_") and hook["secret"] != slack["secret"]
    # The slack webhook's secret is rotated before the report: it is signed with the new one.
    first_slack_secret = slack["secret"]
    slack = rotate(dapi, tenant, slack["id"])
    assert slack["secret"].startswith("whsec_") and slack["secret"] != first_slack_secret
    listed = dapi.get(f"/agents/{tenant.agent_id}/deliver-to", headers=tenant.owner.headers)
    assert "secret" not in listed.text and len(listed.json()) == 3  # shown once only
    receiver.script["/hook"] = [500, 500]

    task_id = run_task(
        dapi, tenant, "DAILY_WAREHOUSE_REPORT", {"data_source": "sample", "day": DAY}
    )
    task = wait_task(dapi, tenant, task_id, {"SUCCESS", "FAILED"}, timeout=120)
    assert task["status"] == "SUCCESS", task["error"]
    deliveries = wait_deliveries(
        dapi,
        tenant,
        task_id,
        lambda ds: len(ds) == 3 and all(d["status"] == "DELIVERED" for d in ds),
    )
    by_target = {d["target"]: d for d in deliveries}

    # The webhook: 500, 500, then 200; three attempts recorded, one delivery, each signed.
    webhook = by_target[f"{receiver.url}/hook"]
    assert [(a["attempt"], a["outcome"], a["status_code"]) for a in webhook["attempt_log"]] == [
        (1, "failed", 500),
        (2, "failed", 500),
        (3, "delivered", 200),
    ]
    assert webhook["attempts"] == 3 and "500" in webhook["attempt_log"][0]["error"]
    hits = receiver.of("/hook")
    assert len(hits) == 3
    assert all(verify(hook["secret"], h) for h in hits)
    assert not verify(slack["secret"], hits[0])
    assert len({h["headers"]["Idempotency-Key"] for h in hits}) == 1
    payload = json.loads(hits[-1]["body"])
    assert payload["task_id"] == task_id and payload["day"] == DAY
    assert payload["link"] == f"http://web.test/agents/{tenant.agent_id}?tab=tasks&task={task_id}"
    assert {c["id"] for c in payload["charts"]} >= {"throughput_by_hour", "late_rate_28d"}
    assert any("Dock 4" in a for a in payload["anomalies"])
    assert payload["metrics"]["day"] == DAY

    # Slack's shape, signed with its own secret, the rotated one.
    (slack_hit,) = receiver.of("/slack")
    assert verify(slack["secret"], slack_hit)
    assert not verify(first_slack_secret, slack_hit)
    # No secret in clear in the database, the API's or the worker's logs.
    secrets = [hook["secret"], slack["secret"], first_slack_secret]
    stored = sql(
        database_url,
        "SELECT delivery_destinations::text FROM delivery_destinations WHERE agent_id = %s",
        tenant.agent_id,
    )
    assert len(stored) == 3
    assert not [s for (row,) in stored for s in secrets if s in row or s[6:] in row]
    assert not [s for s in secrets if s in caplog.text or s in worker.output]
    slack_body = json.loads(slack_hit["body"])
    assert set(slack_body) == {"text", "blocks"} and "Dock 4" in slack_body["text"]

    # The email: subject with the day and the anomalies, text and HTML parts, inline charts.
    smtp, _ = inbox
    mails = [m for rcpt, m in smtp.messages if rcpt == ["ops@example.com"]]
    assert len(mails) == 1
    msg: Message = email.message_from_bytes(mails[0], policy=default_policy)
    assert DAY in msg["Subject"] and "Dock 4" in msg["Subject"] and "late" in msg["Subject"]
    assert msg["From"] == "Phi Reports <reports@phi.test>"
    text = msg.get_body(preferencelist=("plain",))
    html_part = msg.get_body(preferencelist=("html",))
    assert text is not None and html_part is not None
    assert payload["link"] in text.get_content() and "Daily warehouse report" in text.get_content()
    html_text = html_part.get_content()
    images = [p for p in msg.walk() if p.get_content_type() == "image/png"]
    assert len(images) == len(payload["charts"]) == 5
    for image in images:
        cid = "".join(str(image["Content-ID"]).split()).strip("<>")
        assert f"cid:{cid}" in html_text
        assert image.get_content().startswith(b"\x89PNG")
    assert html.escape(payload["link"]) in html_text and "<table>" in html_text
    # Kept for a person to look at (the screenshot of the email's HTML).
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "report-email.eml").write_bytes(mails[0])

    # The task is what it was: a delivery never changes it.
    assert dapi.get(f"/tasks/{task_id}", headers=tenant.owner.headers).json()["status"] == "SUCCESS"
    # Success stored again (a task run again after a crash) adds no delivery.
    sql(database_url, _CREATE_FOR_TASK, task_id)
    assert sql(database_url, "SELECT count(*) FROM deliveries WHERE task_id = %s", task_id) == [
        (3,)
    ]


def test_a_worker_killed_during_delivery_still_delivers_once(
    dapi: httpx.Client,
    database_url: str,
    inbox: tuple[SmtpInbox, int],
    receiver: Receiver,
    start_worker: Callable[..., WorkerProcess],
) -> None:
    first = start_worker(**delivery_settings(inbox[1]))
    tenant = make_tenant(database_url)
    hook = add(dapi, tenant, webhook_url=f"{receiver.url}/held")
    receiver.hold.add("/held")
    receiver.held.clear()
    receiver.release.clear()
    task_id = run_task(
        dapi, tenant, "DAILY_WAREHOUSE_REPORT", {"data_source": "sample", "day": DAY}
    )
    assert receiver.held.wait(120), "the first attempt never arrived"
    first.kill()  # mid-request: the receiver has the body, the worker never hears back
    receiver.release.set()
    start_worker(**delivery_settings(inbox[1]))
    (delivery,) = wait_deliveries(
        dapi, tenant, task_id, lambda ds: len(ds) == 1 and ds[0]["status"] == "DELIVERED"
    )
    assert [a["outcome"] for a in delivery["attempt_log"]] == ["interrupted", "delivered"]
    assert "unknown" in delivery["attempt_log"][0]["error"]
    hits = receiver.of("/held")
    assert len(hits) == 2 and all(verify(hook["secret"], h) for h in hits)
    # The same key both times: a receiver that keeps the keys it has seen takes it once.
    assert {h["headers"]["Idempotency-Key"] for h in hits} == {delivery["id"]}
    assert hits[0]["body"] == hits[1]["body"]
    time.sleep(2)
    assert len(receiver.of("/held")) == 2  # and nothing after the delivery


def test_adding_a_webhook_retried_with_its_key_hands_over_the_same_secret(
    dapi: httpx.Client, database_url: str, receiver: Receiver
) -> None:
    """The answer with the secret was lost: the retry must show that secret, not a 409 for a
    destination nobody can verify; once the secret is rotated, the old one is not replayed."""
    tenant = make_tenant(database_url)
    path = f"/agents/{tenant.agent_id}/deliver-to"
    body = {"workflow_type": "DAILY_WAREHOUSE_REPORT", "webhook_url": f"{receiver.url}/k"}
    headers = {**tenant.owner.headers, "Idempotency-Key": "hook-" + tenant.agent_id}
    first = dapi.post(path, json=body, headers=headers)
    assert first.status_code == 201, first.text
    again = dapi.post(path, json=body, headers=headers)
    assert again.status_code == 201, again.text
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert len(dapi.get(path, headers=tenant.owner.headers).json()) == 1
    stored = sql(database_url, "SELECT response::text FROM idempotency_keys")
    assert all(first.json()["secret"] not in row[0] for row in stored)
    other = dapi.post(path, json={**body, "format": "slack"}, headers=headers)
    assert other.status_code == 422 and headers["Idempotency-Key"] in other.json()["detail"]
    rotated = dapi.post(f"{path}/{first.json()['id']}/rotate-secret", headers=tenant.owner.headers)
    assert rotated.status_code == 200, rotated.text
    late = dapi.post(path, json=body, headers=headers)
    assert late.status_code == 409 and "new secret" in late.json()["detail"]
    assert first.json()["secret"] not in late.text
    # An email destination replays too (it has no secret).
    mail = {"workflow_type": "DAILY_WAREHOUSE_REPORT", "email": "ops@example.com"}
    mail_headers = {**tenant.owner.headers, "Idempotency-Key": "mail-" + tenant.agent_id}
    made = dapi.post(path, json=mail, headers=mail_headers)
    assert made.status_code == 201, made.text
    assert dapi.post(path, json=mail, headers=mail_headers).json() == made.json()


def test_deliver_to_refuses_bad_and_private_destinations(
    api: httpx.Client, database_url: str
) -> None:
    """On the default settings (no network allowed): webhooks to the platform's own or
    private addresses are refused when saved, and so are malformed destinations."""
    tenant = make_tenant(database_url)
    path = f"/agents/{tenant.agent_id}/deliver-to"
    cases = [
        ({"webhook_url": "http://127.0.0.1:8001/tasks"}, "private, local or reserved"),
        ({"webhook_url": "http://169.254.169.254/latest/meta-data"}, "private, local"),
        ({"webhook_url": "http://[::1]:9/x"}, "private, local"),
        ({"webhook_url": "http://10.0.0.5/hook"}, "private, local"),
        ({"webhook_url": "http://localhost:3000/x"}, "private, local"),
        ({"webhook_url": "ftp://example.com/x"}, "https://"),
        ({"webhook_url": "https://user:pw@example.com/x"}, "no user or password"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@example.com", "webhook_url": "https://example.com"}, "exactly one"),
        ({}, "exactly one"),
    ]
    for body, words in cases:
        r = api.post(
            path,
            json={"workflow_type": "DAILY_WAREHOUSE_REPORT", **body},
            headers=tenant.owner.headers,
        )
        assert r.status_code == 422 and words in r.text, (body, r.status_code, r.text)
    r = api.post(
        path, json={"workflow_type": "NOPE", "email": "a@example.com"}, headers=tenant.owner.headers
    )
    assert r.status_code == 422 and "unknown workflow type 'NOPE'" in r.text
    body = {"workflow_type": "DAILY_WAREHOUSE_REPORT", "email": "ops@example.com"}
    r = api.post(path, json=body, headers=tenant.member.headers)
    assert r.status_code == 403 and "OWNER or ADMIN" in r.text
    created = api.post(path, json=body, headers=tenant.owner.headers)
    assert created.status_code == 201 and created.json()["secret"] is None
    again = api.post(path, json=body, headers=tenant.owner.headers)
    assert again.status_code == 409 and "already receives" in again.text
    gone = api.delete(f"{path}/{created.json()['id']}", headers=tenant.owner.headers)
    assert gone.status_code == 204
    assert (
        api.delete(f"{path}/{created.json()['id']}", headers=tenant.owner.headers).status_code
        == 404
    )
    assert api.get(path, headers=tenant.owner.headers).json() == []


def test_webhook_secrets_are_stored_encrypted_and_rotated_once_audited(
    dapi: httpx.Client,
    database_url: str,
    receiver: Receiver,
    orch_settings: Callable[..., OrchestratorSettings],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    tenant = make_tenant(database_url)
    hook = add(dapi, tenant, webhook_url=f"{receiver.url}/rotated")
    mail = add(dapi, tenant, email="ops@example.com")
    path = f"/agents/{tenant.agent_id}/deliver-to"
    box = orch_settings().secret_box
    ((sealed,),) = sql(
        database_url, "SELECT secret_encrypted FROM delivery_destinations WHERE id = %s", hook["id"]
    )
    assert hook["secret"] not in sealed and box.open(sealed) == hook["secret"]
    after = sql(database_url, "SELECT max(id) FROM audit_events WHERE org_id = %s", tenant.org_id)

    # Refused: a member, another agent's or no destination, an email, a malformed id; each
    # named, none changes the secret or records anything.
    r = dapi.post(f"{path}/{hook['id']}/rotate-secret", headers=tenant.member.headers)
    assert r.status_code == 403 and "OWNER or ADMIN" in r.text
    r = dapi.post(f"{path}/{uuid.uuid4()}/rotate-secret", headers=tenant.owner.headers)
    assert r.status_code == 404 and "destination not found" in r.text
    r = dapi.post(f"{path}/{mail['id']}/rotate-secret", headers=tenant.owner.headers)
    assert r.status_code == 409 and "only webhooks have a signing secret" in r.text
    r = dapi.post(f"{path}/not-an-id/rotate-secret", headers=tenant.owner.headers)
    assert r.status_code == 422 and "destination_id" in r.text
    assert sql(
        database_url, "SELECT secret_encrypted FROM delivery_destinations WHERE id = %s", hook["id"]
    ) == [(sealed,)]
    assert sql(
        database_url,
        "SELECT count(*) FROM audit_events WHERE org_id = %s AND id > %s",
        tenant.org_id,
        after[0][0],
    ) == [(0,)]

    rotated = rotate(dapi, tenant, hook["id"])
    assert rotated["id"] == hook["id"] and rotated["target"] == hook["target"]
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != hook["secret"]
    ((resealed,),) = sql(
        database_url, "SELECT secret_encrypted FROM delivery_destinations WHERE id = %s", hook["id"]
    )
    assert box.open(resealed) == rotated["secret"]
    # Shown once: the list never carries a secret.
    listed = dapi.get(path, headers=tenant.owner.headers)
    assert listed.status_code == 200 and "whsec_" not in listed.text
    assert "secret" not in listed.json()[0]
    events = sql(
        database_url,
        "SELECT action, actor_id::text, target_id, target_label, details, "
        "audit_events::text FROM audit_events WHERE org_id = %s AND id > %s ORDER BY id",
        tenant.org_id,
        after[0][0],
    )
    assert [(e[0], e[1], e[2], e[3]) for e in events] == [
        ("delivery_destination.secret_rotated", tenant.owner.user_id, hook["id"], "127.0.0.1")
    ]
    assert events[0][4] == {
        "workflow_type": "DAILY_WAREHOUSE_REPORT",
        "kind": "webhook",
        "agent_id": tenant.agent_id,
        "agent_name": "Warehouse bot",
    }
    secrets = (hook["secret"], rotated["secret"])
    assert not [s for s in secrets if s in events[0][5] or s in caplog.text]


def test_report_pdf_downloads_with_its_charts(
    dapi: httpx.Client,
    database_url: str,
    inbox: tuple[SmtpInbox, int],
    start_worker: Callable[..., WorkerProcess],
) -> None:
    start_worker(**delivery_settings(inbox[1]))
    tenant = make_tenant(database_url)
    task_id = run_task(
        dapi, tenant, "DAILY_WAREHOUSE_REPORT", {"data_source": "sample", "day": DAY}
    )
    task = wait_task(dapi, tenant, task_id, {"SUCCESS", "FAILED"}, timeout=120)
    assert task["status"] == "SUCCESS", task["error"]
    r = dapi.get(f"/tasks/{task_id}/report.pdf", headers=tenant.owner.headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert f'filename="daily_warehouse_report-{DAY}.pdf"' in r.headers["content-disposition"]
    import pypdfium2

    pdf = pypdfium2.PdfDocument(r.content)
    text = "".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    assert "Daily warehouse report" in text and "Dock 4" in text
    images = sum(
        1
        for i in range(len(pdf))
        for o in pdf[i].get_objects()
        if o.type == pypdfium2.raw.FPDF_PAGEOBJ_IMAGE
    )
    assert images == 5
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "report.pdf").write_bytes(r.content)
    # A task without a report: 409 naming why.
    (waiting,) = sql(
        database_url,
        "INSERT INTO tasks (agent_id, org_id, type, status, input) VALUES (%s, %s, "
        "'DAILY_WAREHOUSE_REPORT', 'RUNNING', '{}') RETURNING id",
        tenant.agent_id,
        tenant.org_id,
    )[0]
    r = dapi.get(f"/tasks/{waiting}/report.pdf", headers=tenant.owner.headers)
    assert r.status_code == 409 and "no report" in r.text

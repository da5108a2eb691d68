"""What a delivery sends: the email (HTML with the charts inline, a plain-text part) and the
webhook's JSON body (ours, or Slack's incoming-webhook shape), built from the result document.
Pure functions: the same delivery builds the same bytes at every attempt."""

from __future__ import annotations

import hashlib
import hmac
import json
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from phi_orchestrator.results.chart_images import chart_png
from phi_orchestrator.results.document import ResultDocument
from phi_orchestrator.results.html import result_html

SUBJECT_MAX = 200


def subject(doc: ResultDocument) -> str:
    """The day (in the title) and the anomalies, cut to a length mail clients show."""
    text = (
        f"{doc.title}: {'; '.join(doc.anomalies)}"
        if doc.anomalies
        else (f"{doc.title}: no anomalies")
    )
    return text if len(text) <= SUBJECT_MAX else text[: SUBJECT_MAX - 1] + "…"


def plain_text(doc: ResultDocument) -> str:
    lines = [doc.title, "", doc.summary, ""]
    if doc.anomalies:
        lines += ["Anomalies:", *[f"- {a}" for a in doc.anomalies], ""]
    if doc.link:
        lines += [f"Open the task: {doc.link}", ""]
    if doc.charts:
        lines += ["Charts: see the HTML version of this email or the task page.", ""]
    lines.append(doc.report_md)
    return "\n".join(lines)


def email_message(
    doc: ResultDocument, *, sender: str, recipient: str, delivery_id: str
) -> EmailMessage:
    """The report email. Its Message-ID is the delivery's, so an attempt repeated after a
    worker died mid-send is recognisable as the same message."""
    msg = EmailMessage()
    msg["Subject"] = subject(doc)
    msg["From"] = sender
    msg["To"] = recipient
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = f"<{delivery_id}@phi-agents>"
    msg["X-Phi-Task"] = doc.task_id
    msg.set_content(plain_text(doc))
    cids = {c.id: f"{c.id}.{delivery_id}@phi-agents" for c in doc.charts}
    html = result_html(
        title=doc.title,
        summary=doc.summary,
        anomalies=doc.anomalies,
        charts=doc.charts,
        image_src=lambda c: f"cid:{cids[c.id]}",
        report_md=doc.report_md,
        link=doc.link,
    )
    msg.add_alternative(html, subtype="html")
    html_part: EmailMessage = msg.get_payload()[1]  # type: ignore[index,assignment]
    for chart in doc.charts:
        html_part.add_related(
            chart_png(chart),
            maintype="image",
            subtype="png",
            cid=f"<{cids[chart.id]}>",
            filename=f"{chart.id}.png",
            disposition="inline",
        )
    return msg


def webhook_body(doc: ResultDocument, fmt: str, delivery_id: str) -> bytes:
    """The JSON body: ``json`` (everything a program needs) or ``slack`` (text and blocks
    for a Slack incoming webhook)."""
    payload: dict[str, Any]
    if fmt == "slack":
        lines = [f"*{doc.title}*", doc.summary]
        if doc.anomalies:
            lines.append("Anomalies: " + "; ".join(doc.anomalies))
        if doc.link:
            lines.append(f"<{doc.link}|Open the task>")
        text = "\n".join(lines)
        payload = {
            "text": text,
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}}],
        }
    else:
        payload = {
            "event": "task.succeeded",
            "delivery_id": delivery_id,
            "task_id": doc.task_id,
            "agent_id": doc.agent_id,
            "workflow_type": doc.task_type,
            "title": doc.title,
            "day": doc.day,
            "summary": doc.summary,
            "anomalies": doc.anomalies,
            "link": doc.link,
            "charts": [c.model_dump(mode="json") for c in doc.charts],
            "metrics": doc.metrics,
            "report_md": doc.report_md,
        }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def signature(secret: str, body: bytes) -> str:
    """``X-Phi-Signature``: HMAC-SHA256 of the exact body with the webhook's secret, hex,
    prefixed ``sha256=``. A receiver computes the same over the raw bytes it got and compares
    in constant time."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()

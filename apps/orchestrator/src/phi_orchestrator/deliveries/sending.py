"""Sending one delivery attempt: email through SMTP, a webhook over HTTP(S).

Each returns an :class:`Outcome`; a refusal that no retry can fix (SMTP not configured, a
webhook address that is not allowed) is ``final``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from phi_orchestrator.deliveries import messages
from phi_orchestrator.deliveries.addresses import AddressRefused, allowed_networks, resolve_webhook
from phi_orchestrator.results.document import ResultDocument
from phi_orchestrator.settings import OrchestratorSettings


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    error: str | None = None
    status_code: int | None = None
    final: bool = False  # no later attempt can succeed


async def send_email(
    settings: OrchestratorSettings, doc: ResultDocument, recipient: str, delivery_id: str
) -> Outcome:
    import aiosmtplib

    if not settings.smtp_url:
        return Outcome(False, "PHI_SMTP_URL is not set: this platform sends no email", final=True)
    parts = urlsplit(settings.smtp_url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        return Outcome(False, "PHI_SMTP_URL must look like smtp://host:587", final=True)
    message = messages.email_message(
        doc, sender=settings.smtp_from, recipient=recipient, delivery_id=delivery_id
    )
    implicit_tls = parts.scheme == "smtps"
    try:
        await aiosmtplib.send(
            message,
            hostname=parts.hostname,
            port=parts.port or (465 if implicit_tls else 587),
            username=settings.smtp_username
            or (unquote(parts.username) if parts.username else None),
            password=settings.smtp_password
            or (unquote(parts.password) if parts.password else None),
            use_tls=implicit_tls,
            start_tls=None if implicit_tls else settings.smtp_starttls,
            timeout=settings.delivery_timeout_seconds,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        return Outcome(False, f"the mail server refused {recipient}: {exc}", final=True)
    except (aiosmtplib.SMTPException, OSError) as exc:
        return Outcome(False, f"{type(exc).__name__}: {exc}")
    return Outcome(True)


async def send_webhook(
    settings: OrchestratorSettings,
    doc: ResultDocument,
    url: str,
    fmt: str,
    secret: str | None,
    delivery_id: str,
) -> Outcome:
    try:
        resolved = await resolve_webhook(url, allowed_networks(settings.webhook_allowed_networks))
    except AddressRefused as exc:
        return Outcome(False, str(exc), final=True)
    body = messages.webhook_body(doc, fmt, delivery_id)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "phi-agents-webhook/1",
        "Host": urlsplit(url).netloc,
        "X-Phi-Delivery": delivery_id,
        "Idempotency-Key": delivery_id,
    }
    if secret:
        headers["X-Phi-Signature"] = messages.signature(secret, body)
    # Connect to the address that was checked; the name goes in Host and in TLS SNI.
    parts = urlsplit(url)
    host = f"[{resolved.address}]" if ":" in resolved.address else resolved.address
    pinned = urlunsplit((parts.scheme, f"{host}:{resolved.port}", parts.path, parts.query, ""))
    try:
        async with httpx.AsyncClient(
            timeout=settings.delivery_timeout_seconds, follow_redirects=False
        ) as client:
            response = await client.post(
                pinned,
                content=body,
                headers=headers,
                extensions={"sni_hostname": resolved.host},
            )
    except httpx.HTTPError as exc:
        return Outcome(False, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    if 200 <= response.status_code < 300:
        return Outcome(True, status_code=response.status_code)
    return Outcome(
        False,
        f"the receiver answered {response.status_code}"
        + (" (redirects are not followed)" if 300 <= response.status_code < 400 else ""),
        status_code=response.status_code,
    )

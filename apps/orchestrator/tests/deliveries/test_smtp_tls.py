"""Report email through a mail server that wants STARTTLS and a login (a real aiosmtpd server
with a certificate made here, trusted through SSL_CERT_FILE as an operator's private CA would
be): the credentials come from the settings (PHI_SMTP_USERNAME / PHI_SMTP_PASSWORD) or the URL,
and are only sent once the connection is encrypted."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from phi_orchestrator.deliveries.sending import send_email
from phi_orchestrator.results.document import result_document
from phi_orchestrator.settings import OrchestratorSettings
from phi_platform.embedded_pg import free_port

USER, PASSWORD = "reports", "mail-pass-7f3"


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "phi test mail server")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "mail.pem", folder / "mail.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []
        self.logins: list[tuple[str, bool]] = []  # (login, over TLS)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append((list(envelope.rcpt_tos), bytes(envelope.original_content)))
        return "250 OK"


@pytest.fixture(scope="module")
def mail_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Inbox, int, Path]]:
    import ssl

    cert_file, key_file = _self_signed(tmp_path_factory.mktemp("mail-tls"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    inbox = Inbox()

    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode()
        inbox.logins.append((login, session.ssl is not None))
        ok = login == USER and auth_data.password.decode() == PASSWORD
        return AuthResult(success=ok, handled=False)  # not handled: the server answers 535

    port = free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=True,
    )
    controller.start()
    yield inbox, port, cert_file
    controller.stop()


def _document() -> Any:
    task = {
        "id": "0193ab12-0000-7000-8000-000000000001",
        "agent_id": "0193ab12-0000-7000-8000-000000000002",
        "type": "DAILY_WAREHOUSE_REPORT",
        "status": "SUCCESS",
        "output": {"summary_text": "2026-11-24: 693 picks.", "full_report_md": "# Report\n"},
    }
    return result_document(task, "http://web.test")


def _send(settings: OrchestratorSettings, recipient: str) -> Any:
    return asyncio.run(send_email(settings, _document(), recipient, "delivery-1"))


def test_starttls_then_the_login_from_the_settings(
    mail_server: tuple[Inbox, int, Path],
    orch_settings: Callable[..., OrchestratorSettings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inbox, port, cert_file = mail_server
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
    settings = orch_settings(
        smtp_url=f"smtp://127.0.0.1:{port}", smtp_username=USER, smtp_password=PASSWORD
    )
    outcome = _send(settings, "ops@example.com")
    assert outcome.delivered, outcome.error
    assert inbox.logins[-1] == (USER, True)  # logged in after STARTTLS, never in clear
    assert [rcpt for rcpt, _ in inbox.messages] == [["ops@example.com"]]


def test_the_login_may_come_in_the_url(
    mail_server: tuple[Inbox, int, Path],
    orch_settings: Callable[..., OrchestratorSettings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inbox, port, cert_file = mail_server
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))
    settings = orch_settings(smtp_url=f"smtp://{USER}:{PASSWORD}@127.0.0.1:{port}")
    outcome = _send(settings, "night@example.com")
    assert outcome.delivered, outcome.error
    assert inbox.logins[-1] == (USER, True)
    assert ["night@example.com"] in [rcpt for rcpt, _ in inbox.messages]


@pytest.mark.parametrize(
    ("settings", "trusted", "error"),
    [
        pytest.param({"smtp_password": "not-it"}, True, "SMTPAuthenticationError", id="password"),
        # PHI_SMTP_STARTTLS=false against a server that requires it: refused, nothing sent in
        # clear (the login is never offered without TLS).
        pytest.param(
            {"smtp_starttls": False}, True, "AUTH extension is not supported", id="no-starttls"
        ),
        # A certificate nobody trusts: the connection is refused, not used unchecked.
        pytest.param({}, False, "certificate", id="untrusted-certificate"),
    ],
)
def test_a_failed_attempt_is_not_a_delivery(
    mail_server: tuple[Inbox, int, Path],
    orch_settings: Callable[..., OrchestratorSettings],
    monkeypatch: pytest.MonkeyPatch,
    settings: dict[str, Any],
    trusted: bool,
    error: str,
) -> None:
    inbox, port, cert_file = mail_server
    monkeypatch.setenv(
        "SSL_CERT_FILE", str(cert_file if trusted else cert_file.parent / "none.pem")
    )
    sent, logins = len(inbox.messages), len(inbox.logins)
    login = {"smtp_username": USER, "smtp_password": PASSWORD}
    outcome = _send(
        orch_settings(smtp_url=f"smtp://127.0.0.1:{port}", **{**login, **settings}),
        "ops@example.com",
    )
    assert not outcome.delivered and error.lower() in (outcome.error or "").lower(), outcome
    assert len(inbox.messages) == sent
    # Whatever login was tried went over TLS.
    assert all(tls for _, tls in inbox.logins[logins:])

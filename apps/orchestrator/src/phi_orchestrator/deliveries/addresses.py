"""Which addresses a webhook may reach (server-side request forgery).

A webhook URL is typed by a customer and fetched by our workers, inside our network: without
a check it could reach the platform's own services, the database, or a cloud metadata
endpoint. So a webhook must resolve only to public (globally routable) addresses, checked
when it is saved and again at every attempt, and the request goes to the address that was
checked (the host name only in the Host header and TLS SNI), so a DNS answer that changes in
between (rebinding) cannot send it elsewhere. Networks listed in
``PHI_WEBHOOK_ALLOWED_NETWORKS`` are allowed although private (an internal receiver; the
tests' local one). Redirects are not followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class AddressRefused(ValueError):
    """The URL is not one a webhook may call (the message says why)."""


def allowed_networks(setting: str) -> list[Network]:
    """``PHI_WEBHOOK_ALLOWED_NETWORKS`` as networks (ValueError on a bad entry)."""
    return [ipaddress.ip_network(p.strip(), strict=False) for p in setting.split(",") if p.strip()]


def check_url_form(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL without credentials; else AddressRefused."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise AddressRefused(f"not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise AddressRefused("a webhook URL must start with https:// (or http://)")
    if not parts.hostname:
        raise AddressRefused("the webhook URL has no host")
    if parts.username or parts.password:
        raise AddressRefused("put no user or password in the webhook URL (it is signed instead)")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def _refusal(address: IPAddress, allowed: list[Network]) -> str | None:
    if any(address in net for net in allowed if net.version == address.version):
        return None
    if address.is_global and not address.is_multicast:
        return None
    return (
        f"resolves to {address}, a private, local or reserved address; webhooks may only call "
        "public addresses (an operator can allow a network with PHI_WEBHOOK_ALLOWED_NETWORKS)"
    )


@dataclass(frozen=True)
class Resolved:
    scheme: str
    host: str
    port: int
    address: str  # the checked address to connect to


async def resolve_webhook(url: str, allowed: list[Network]) -> Resolved:
    """Resolve the URL's host and check every address; AddressRefused if any is not allowed
    or the host does not resolve."""
    scheme, host, port = check_url_form(url)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except OSError as exc:
            raise AddressRefused(f"the host {host} does not resolve ({exc})") from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    for address in addresses:
        problem = _refusal(address, allowed)
        if problem:
            raise AddressRefused(f"{host} {problem}")
    return Resolved(scheme, host, port, str(addresses[0]))

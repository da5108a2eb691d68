"""Local-agent keys: ``phia_<32 hex: key id>_<43 url-safe characters: secret>``.

Only the secret's SHA-256 is stored: the secret is 256 random bits, so a slow password hash
would add nothing but latency to every long poll. Comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass

KEY_PATTERN = re.compile(r"^phia_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class NewKey:
    id: uuid.UUID
    prefix: str
    secret_sha256: bytes
    key: str


def hash_secret(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def new_key() -> NewKey:
    key_id = uuid.uuid4()
    secret = secrets.token_urlsafe(32)  # 32 bytes -> 43 characters
    return NewKey(
        id=key_id,
        prefix=f"phia_{key_id.hex[:8]}",
        secret_sha256=hash_secret(secret),
        key=f"phia_{key_id.hex}_{secret}",
    )


def parse_key(key: str) -> tuple[uuid.UUID, str] | None:
    """(key id, secret) of a well-formed key, else None."""
    match = KEY_PATTERN.match(key)
    if not match:
        return None
    return uuid.UUID(hex=match.group(1)), match.group(2)


def secret_matches(secret: str, stored: bytes) -> bool:
    return hmac.compare_digest(hash_secret(secret), bytes(stored))

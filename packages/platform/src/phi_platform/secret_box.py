"""Secrets the platform must read back (a webhook's signing key: an HMAC needs the key
itself, so it cannot be hashed like a local-agent key), kept encrypted at rest.

The key comes from ``PHI_SECRETS_KEY`` (or ``PHI_SECRETS_KEY_FILE``; generated once into the
data dir on a single host): any random string of at least 32 characters, from which a Fernet
key (AES-128-CBC + HMAC-SHA256, authenticated) is derived with HKDF-SHA256. To change it, put
the new key first and keep the old one after a comma until every stored secret was written
again (``phi-db reseal-secrets``): the first key encrypts, every key decrypts.

Stored values are Fernet tokens: a copy of the database alone reveals no secret, and a token
altered or encrypted under another key is refused, never read as garbage.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MIN_KEY_CHARS = 32
# Ties the derived key to this use: the same setting could key something else later.
_INFO = b"phi-agents secret box v1"


class SecretUnreadable(ValueError):
    """A stored secret that none of the configured keys decrypts (the key was changed
    without keeping the old one, or the value was altered)."""


class BadSecretsKey(ValueError):
    """A ``PHI_SECRETS_KEY`` that cannot be used; the message says why, never the value."""


def _fernet(material: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        material.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def parse_keys(value: str) -> list[str]:
    """The keys of a ``PHI_SECRETS_KEY`` value (comma-separated, newest first); raises
    :class:`BadSecretsKey` naming what is wrong."""
    keys = [k.strip() for k in value.split(",")]
    if not keys or any(not k for k in keys):
        raise BadSecretsKey("PHI_SECRETS_KEY has an empty key (keys are separated by commas)")
    for position, key in enumerate(keys, start=1):
        if len(key) < MIN_KEY_CHARS:
            raise BadSecretsKey(
                f"PHI_SECRETS_KEY: key {position} has {len(key)} characters; at least "
                f"{MIN_KEY_CHARS} are needed (e.g. the output of `openssl rand -base64 32`)"
            )
    return keys


class SecretBox:
    """Encrypts and decrypts the platform's stored secrets with the configured keys."""

    def __init__(self, value: str) -> None:
        self._box = MultiFernet([_fernet(k) for k in parse_keys(value)])

    def seal(self, secret: str) -> str:
        """The value to store for ``secret``."""
        return self._box.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        """The secret stored as ``sealed``; :class:`SecretUnreadable` if no key opens it."""
        try:
            return self._box.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise SecretUnreadable(
                "a stored secret cannot be decrypted with PHI_SECRETS_KEY: was the key changed "
                "without keeping the old one after a comma?"
            ) from None

    def reseal(self, sealed: str) -> str:
        """``sealed`` encrypted again under the first key (after a key change)."""
        try:
            return self._box.rotate(sealed.encode()).decode()
        except InvalidToken:
            raise SecretUnreadable(
                "a stored secret cannot be decrypted with any key of PHI_SECRETS_KEY"
            ) from None

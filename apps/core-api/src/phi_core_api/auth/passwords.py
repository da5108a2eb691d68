"""Password hashing (argon2id). Access tokens are in ``phi_service.tokens``."""

from __future__ import annotations

import unicodedata

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# argon2-cffi's defaults are argon2id with RFC 9106 "low memory" parameters.
_hasher = PasswordHasher()
# Verifying against this when the email is unknown keeps both failures equally slow.
_DUMMY_HASH = _hasher.hash("phi-agents-no-such-user")


def normalize_password(password: str) -> str:
    """NFKC form: the same password typed on another keyboard or OS (composed or decomposed
    accents, full-width digits, ligatures) is the same password."""
    return unicodedata.normalize("NFKC", password)


def hash_password(password: str) -> str:
    return _hasher.hash(normalize_password(password))


def verify_password(password_hash: str | None, password: str) -> bool:
    normalized = normalize_password(password)
    if _verify(password_hash, normalized):
        return True
    # Accounts created before passwords were normalised hold a hash of the raw string.
    return normalized != password and _verify(password_hash, password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False

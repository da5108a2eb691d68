"""Password hashing (argon2id). Access tokens are in ``phi_service.tokens``."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

# argon2-cffi's defaults are argon2id with RFC 9106 "low memory" parameters.
_hasher = PasswordHasher()
# Verifying against this when the email is unknown keeps both failures equally slow.
_DUMMY_HASH = _hasher.hash("phi-agents-no-such-user")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False

"""Access tokens (JWT, HS256): issued by core-api at sign-in, checked by every service."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import jwt


def create_access_token(user_id: uuid.UUID, secret: str, ttl_minutes: int) -> tuple[str, int]:
    """A signed token for ``user_id`` and its lifetime in seconds."""
    now = datetime.now(UTC)
    expires_in = ttl_minutes * 60
    claims = {
        "sub": str(user_id),
        "iat": now,
        "exp": now + timedelta(seconds=expires_in),
        "typ": "access",
    }
    return jwt.encode(claims, secret, algorithm="HS256"), expires_in


def decode_access_token(token: str, secret: str) -> uuid.UUID | None:
    """The user id of a valid, unexpired access token; None for anything else."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=["HS256"], options={"require": ["exp", "sub"]}
        )
        if claims.get("typ") != "access":
            return None
        return uuid.UUID(claims["sub"])
    except (jwt.PyJWTError, ValueError):
        return None

"""Access tokens (JWT, HS256): issued by core-api at sign-in, checked by every service."""

from __future__ import annotations

import time
import uuid
from collections import OrderedDict
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
    claims = _verify(token, secret)
    return None if claims is None else claims[0]


def _verify(token: str, secret: str) -> tuple[uuid.UUID, float] | None:
    """(user id, expiry as a Unix time) of a valid, unexpired access token."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=["HS256"], options={"require": ["exp", "sub"]}
        )
        if claims.get("typ") != "access":
            return None
        return uuid.UUID(claims["sub"]), float(claims["exp"])
    except (jwt.PyJWTError, ValueError, TypeError):
        return None


class VerifiedTokens:
    """Tokens this process has verified, so a client's next requests skip the signature check.

    Checking a token (base64, JSON, HMAC, claims: PyJWT) was about 5 % of the API's CPU on
    the agents listing (bench/agents_list.py, issue 24). What the signature proves cannot
    change later for the same token and secret, so a hit only has to look at the expiry again.
    Nothing else is remembered: whether the account and its memberships still exist is asked
    of the database on every request as before. Only valid tokens are kept, at most
    ``max_size`` (least recently used ones go first).
    """

    def __init__(self, secret: str, max_size: int = 4096) -> None:
        self.secret = secret
        self.max_size = max_size
        self._tokens: OrderedDict[str, tuple[uuid.UUID, float]] = OrderedDict()

    def user_id(self, token: str) -> uuid.UUID | None:
        """Like :func:`decode_access_token`, from memory when the token was seen before."""
        hit = self._tokens.get(token)
        now = time.time()
        if hit is not None:
            if hit[1] > now:
                self._tokens.move_to_end(token)
                return hit[0]
            del self._tokens[token]
            return None
        claims = _verify(token, self.secret)
        if claims is None:
            return None
        self._tokens[token] = claims
        if len(self._tokens) > self.max_size:
            self._tokens.popitem(last=False)
        return claims[0]

"""Sign-up, sign-in and the throttle on repeated failed sign-ins."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.concurrency import run_in_threadpool

from phi_core_api.auth.passwords import hash_password, verify_password
from phi_core_api.auth.schemas import LoginIn, SignupIn
from phi_core_api.settings import CoreApiSettings
from phi_platform.db.models import OrganizationMember, User
from phi_service.audit import Actor, Target, record_event
from phi_service.errors import Conflict, TooManyRequests, Unauthorized


def normalize_email(email: str) -> str:
    return email.strip().lower()


async def signup(
    session: AsyncSession, settings: CoreApiSettings, data: SignupIn, client_address: str
) -> User:
    email = normalize_email(data.email)
    # Answering 409 for a taken email tells whoever asks that it has an account: an address
    # may hear it only so often (docs/security.md). Checked before the lookup, so a refused
    # sign-up tells nothing.
    throttle = LoginThrottle(session, settings)
    existing_key = f"signup-existing:{client_address}"
    await throttle.check([existing_key], "sign-ups for existing accounts")
    exists = await session.scalar(select(User.id).where(func.lower(User.email) == email))
    if exists:
        window = settings.signup_existing_window_seconds
        await throttle.record_failure(
            existing_key, settings.signup_max_existing_per_address, window=window, hold=window
        )
        await session.commit()
        raise Conflict("an account with this email already exists")
    # argon2 is deliberately slow: keep it off the event loop.
    password_hash = await run_in_threadpool(hash_password, data.password)
    user = User(email=email, password_hash=password_hash, name=data.name)
    session.add(user)
    await session.flush()
    # The address the account was made from is its first known one (see LoginThrottle).
    await remember_address(session, settings, user.id, client_address)
    await session.commit()
    return user


async def remember_address(
    session: AsyncSession, settings: CoreApiSettings, user_id: uuid.UUID, address: str
) -> None:
    """Record that the user signed in (or up) from ``address`` now, and forget the user's
    addresses unused for longer than PHI_LOGIN_KNOWN_ADDRESS_DAYS."""
    if address == UNKNOWN_ADDRESS:
        return
    await session.execute(
        text(
            "INSERT INTO login_known_addresses (user_id, address) VALUES (:uid, :address) "
            "ON CONFLICT (user_id, address) DO UPDATE SET last_seen_at = now()"
        ),
        {"uid": user_id, "address": address},
    )
    await session.execute(
        text(
            "DELETE FROM login_known_addresses WHERE user_id = :uid AND last_seen_at < now() - :age"
        ),
        {"uid": user_id, "age": timedelta(days=settings.login_known_address_days)},
    )


# What the routes pass when the connection has no client address.
UNKNOWN_ADDRESS = "unknown"


class LoginThrottle:
    """Slows down password guessing without letting anyone lock an account (docs/security.md).

    Counters live in PostgreSQL (``login_throttle``) so every API process shares them:

    - one account from one address (``pair:``): locked after a few failures;
    - one address whatever the account (``address:``): locked after many failures;
    - one account from anywhere (``account:``): never locked, but past its free failures it
      must wait before the next attempt, a delay that doubles with each failure up to a cap.
      A valid password from an address the account signed in from recently skips that wait,
      so failures sent from elsewhere (or from forged addresses) cannot keep its owner out.
    """

    def __init__(self, session: AsyncSession, settings: CoreApiSettings) -> None:
        self.session = session
        self.settings = settings

    async def check(self, keys: list[str], what: str = "failed sign-ins") -> None:
        """Raise 429 (with Retry-After) when any of ``keys`` is locked or waiting."""
        row = (
            await self.session.execute(
                text(
                    "SELECT max(locked_until) FROM login_throttle "
                    "WHERE key = ANY(:keys) AND locked_until > now()"
                ),
                {"keys": keys},
            )
        ).scalar()
        if row is not None:
            retry_after = max(1, math.ceil((row - datetime.now(UTC)).total_seconds()))
            raise TooManyRequests(
                f"too many {what}; try again in {retry_after} seconds",
                headers={"Retry-After": str(retry_after)},
            )

    async def is_known(self, user_id: uuid.UUID, address: str) -> bool:
        """Whether the user signed in or up from ``address`` within the known-address days."""
        days = self.settings.login_known_address_days
        if days == 0 or address == UNKNOWN_ADDRESS:
            return False
        found = await self.session.scalar(
            text(
                "SELECT 1 FROM login_known_addresses WHERE user_id = :uid AND address = :address "
                "AND last_seen_at > now() - :age"
            ),
            {"uid": user_id, "address": address, "age": timedelta(days=days)},
        )
        return found is not None

    async def _count_failure(
        self, key: str, restart_after_quiet: bool, window_seconds: float | None = None
    ) -> int:
        """Add a failure to ``key``'s count and return it. The count starts over when the
        window (default PHI_LOGIN_FAILURE_WINDOW_SECONDS) has passed: since its first
        failure, or (``restart_after_quiet``) since its last one. One statement, so
        concurrent failures cannot lose counts."""
        window = timedelta(seconds=window_seconds or self.settings.login_failure_window_seconds)
        since = "t.last_failed_at" if restart_after_quiet else "t.window_started_at"
        stale = f"coalesce({since}, t.window_started_at) < now() - :window"
        failures = await self.session.scalar(
            text(
                f"""
                INSERT INTO login_throttle AS t (key, failures, window_started_at, last_failed_at)
                VALUES (:key, 1, now(), now())
                ON CONFLICT (key) DO UPDATE SET
                    failures = CASE WHEN {stale} THEN 1 ELSE t.failures + 1 END,
                    window_started_at = CASE WHEN {stale} THEN now()
                                             ELSE t.window_started_at END,
                    last_failed_at = now()
                RETURNING failures
                """
            ),
            {"key": key, "window": window},
        )
        return int(failures or 0)

    async def _hold(self, key: str, seconds: float, *, restart: bool) -> None:
        await self.session.execute(
            text(
                # From the clock, not now() (the transaction's start, before the deliberately
                # slow password check), so a hold lasts its full length from the answer.
                "UPDATE login_throttle SET locked_until = clock_timestamp() + :hold"
                + (", failures = 0, window_started_at = now()" if restart else "")
                + " WHERE key = :key"
            ),
            {"key": key, "hold": timedelta(seconds=seconds)},
        )

    async def record_failure(
        self, key: str, limit: int, *, window: float | None = None, hold: float | None = None
    ) -> None:
        """Count a failure of a pair or address key; at ``limit`` within ``window`` it is
        locked out for ``hold`` (defaults: the sign-in window and lockout)."""
        if (
            await self._count_failure(key, restart_after_quiet=False, window_seconds=window)
            >= limit
        ):
            await self._hold(key, hold or self.settings.login_lockout_seconds, restart=True)

    async def record_account_failure(self, key: str) -> None:
        """Count a failure of an account; past its free failures it waits, longer each time."""
        s = self.settings
        over = (
            await self._count_failure(key, restart_after_quiet=True) - s.login_account_free_failures
        )
        if over > 0:
            # Bounded exponent: the cap is reached long before 2**30.
            delay = min(
                s.login_account_max_delay_seconds,
                s.login_account_delay_seconds * 2 ** min(over - 1, 30),
            )
            await self._hold(key, delay, restart=False)

    async def reset(self, key: str) -> None:
        await self.session.execute(
            text("DELETE FROM login_throttle WHERE key = :key"), {"key": key}
        )


async def login(
    session: AsyncSession, settings: CoreApiSettings, data: LoginIn, client_address: str
) -> User:
    email = normalize_email(data.email)
    account_key = f"account:{email}"
    pair_key = f"pair:{client_address}|{email}"
    address_key = f"address:{client_address}"
    throttle = LoginThrottle(session, settings)

    user = await session.scalar(select(User).where(func.lower(User.email) == email))
    known = user is not None and await throttle.is_known(user.id, client_address)
    # From a known address the account's delay does not apply; the pair and address
    # limits always do.
    await throttle.check([pair_key, address_key] if known else [pair_key, address_key, account_key])

    ok = await run_in_threadpool(
        verify_password, user.password_hash if user else None, data.password
    )
    if not ok or user is None:
        await throttle.record_failure(pair_key, settings.login_max_failures_per_pair)
        await throttle.record_failure(address_key, settings.login_max_failures_per_address)
        await throttle.record_account_failure(account_key)
        if user is not None:
            await _record_sign_in_failure(session, user)
        await session.commit()
        # Same answer for an unknown email and a wrong password.
        raise Unauthorized("incorrect email or password")
    await throttle.reset(pair_key)
    await throttle.reset(account_key)
    await remember_address(session, settings, user.id, client_address)
    await session.commit()
    return user


async def _record_sign_in_failure(session: AsyncSession, user: User) -> None:
    """A wrong password for a member's account goes to the audit log of each of their orgs
    (an unknown email belongs to no org: only the throttle counts it)."""
    org_ids = await session.scalars(
        select(OrganizationMember.org_id).where(OrganizationMember.user_id == user.id)
    )
    for org_id in org_ids.all():
        await record_event(
            session,
            org_id,
            Actor.anonymous(),
            "auth.sign_in_failed",
            Target("user", user.id, user.email),
            email=user.email,
            reason="incorrect password",
        )


async def memberships(session: AsyncSession, user_id: uuid.UUID) -> list[dict[str, object]]:
    rows = await session.execute(
        text(
            "SELECT o.id AS org_id, o.name AS org_name, m.role FROM organization_members m "
            "JOIN organizations o ON o.id = m.org_id WHERE m.user_id = :uid ORDER BY o.created_at"
        ),
        {"uid": user_id},
    )
    return [dict(r._mapping) for r in rows]

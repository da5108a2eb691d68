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
from phi_platform.db.models import User
from phi_service.errors import Conflict, TooManyRequests, Unauthorized


def normalize_email(email: str) -> str:
    return email.strip().lower()


async def signup(session: AsyncSession, data: SignupIn) -> User:
    email = normalize_email(data.email)
    exists = await session.scalar(select(User.id).where(func.lower(User.email) == email))
    if exists:
        raise Conflict("an account with this email already exists")
    # argon2 is deliberately slow: keep it off the event loop.
    password_hash = await run_in_threadpool(hash_password, data.password)
    user = User(email=email, password_hash=password_hash, name=data.name)
    session.add(user)
    await session.commit()
    return user


class LoginThrottle:
    """Counts failed sign-ins per account and per client address in PostgreSQL.

    Kept in the database so that every API process shares the same counters.
    """

    def __init__(self, session: AsyncSession, settings: CoreApiSettings) -> None:
        self.session = session
        self.settings = settings

    async def check(self, keys: list[str]) -> None:
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
                f"too many failed sign-ins; try again in {retry_after} seconds",
                headers={"Retry-After": str(retry_after)},
            )

    async def record_failure(self, key: str, limit: int) -> None:
        window = timedelta(seconds=self.settings.login_failure_window_seconds)
        lockout = timedelta(seconds=self.settings.login_lockout_seconds)
        # One statement, so concurrent failures cannot lose counts: a stale window restarts.
        await self.session.execute(
            text(
                """
                INSERT INTO login_throttle AS t (key, failures, window_started_at)
                VALUES (:key, 1, now())
                ON CONFLICT (key) DO UPDATE SET
                    failures = CASE WHEN t.window_started_at < now() - :window THEN 1
                                    ELSE t.failures + 1 END,
                    window_started_at = CASE WHEN t.window_started_at < now() - :window
                                             THEN now() ELSE t.window_started_at END
                """
            ),
            {"key": key, "window": window},
        )
        await self.session.execute(
            text(
                "UPDATE login_throttle SET locked_until = now() + :lockout, failures = 0, "
                "window_started_at = now() WHERE key = :key AND failures >= :limit"
            ),
            {"key": key, "limit": limit, "lockout": lockout},
        )

    async def reset(self, key: str) -> None:
        await self.session.execute(
            text("DELETE FROM login_throttle WHERE key = :key"), {"key": key}
        )


async def login(
    session: AsyncSession, settings: CoreApiSettings, data: LoginIn, client_address: str
) -> User:
    email = normalize_email(data.email)
    account_key, address_key = f"account:{email}", f"address:{client_address}"
    throttle = LoginThrottle(session, settings)
    await throttle.check([account_key, address_key])

    user = await session.scalar(select(User).where(func.lower(User.email) == email))
    ok = await run_in_threadpool(
        verify_password, user.password_hash if user else None, data.password
    )
    if not ok or user is None:
        await throttle.record_failure(account_key, settings.login_max_failures_per_account)
        await throttle.record_failure(address_key, settings.login_max_failures_per_address)
        await session.commit()
        # Same answer for an unknown email and a wrong password.
        raise Unauthorized("incorrect email or password")
    await throttle.reset(account_key)
    await session.commit()
    return user


async def memberships(session: AsyncSession, user_id: uuid.UUID) -> list[dict[str, object]]:
    rows = await session.execute(
        text(
            "SELECT o.id AS org_id, o.name AS org_name, m.role FROM organization_members m "
            "JOIN organizations o ON o.id = m.org_id WHERE m.user_id = :uid ORDER BY o.created_at"
        ),
        {"uid": user_id},
    )
    return [dict(r._mapping) for r in rows]

"""``Idempotency-Key`` on create requests: a retry gets the first answer instead of a second
thing.

A double click on "Create organization", or a client that retries after losing the answer,
sends the same create twice. With the same ``Idempotency-Key`` header on both, the second gets
the first one's answer (status and body, with ``Idempotent-Replayed: true``); the same key
with a different request (another path or body) is refused with 422. Keys belong to the
account that sent them and are kept for :data:`KEEP_FOR`.

How two requests with one key never both create: the key's row is inserted in the same
transaction as the created thing, so the second request's insert waits on the first's
transaction; if that commits, the second finds the key taken and waits (up to
:data:`WAIT_FOR_FIRST`) for the stored answer; if it rolls back (the create failed), the
second creates. A create that fails leaves no key behind, so a corrected retry may reuse it.

Answers holding a secret (a local-agent key, shown once) keep it sealed: encrypted with
``PHI_SECRETS_KEY`` (``phi_platform.secret_box``), bound to the account, the Idempotency-Key
and the request (checked on opening), and deleted with the key's row when
the window ends (the orchestrator's worker purges expired rows every ten minutes). Why: the
client that lost the first answer retries to get the secret; answering 409 there left the user
with a key nobody can use and no secret, and revoking it to make a fresh one would break a
first answer that did arrive (a double click shows one of the two). So a replay is the first
answer, secret included, for as long as the key is kept and the created thing still holds
(a route checks that with ``on_replay``: a revoked local-agent key is 409). If the secrets key
changed in between without keeping the old one, the seal cannot be opened: 409 naming what was
created.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from phi_platform.db.models import IdempotencyKey
from phi_platform.secret_box import SecretBox, SecretUnreadable
from phi_service.deps import CurrentUserId, SessionDep, get_settings_dep
from phi_service.errors import Conflict, InvalidInput

KEEP_FOR = timedelta(hours=24)
WAIT_FOR_FIRST = 10.0
MAX_KEY_LENGTH = 255
# Stored by answers before secrets were sealed: such a replay is still 409.
REDACTED = "__redacted__"
SEALED = "__sealed__"

Created = TypeVar("Created", bound=BaseModel)

KeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Any unique string (a UUID) per intended create; a retry with the same "
        "key and body gets the first answer instead of creating again. Kept for 24 hours.",
    ),
]


def fingerprint(method: str, path: str, body: BaseModel | None) -> str:
    """The request as the key remembers it: method, path and the body as the API read it."""
    payload = body.model_dump(mode="json") if body is not None else None
    canonical = json.dumps([method, path, payload], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _check_key(key: str) -> str:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not all(33 <= ord(c) <= 126 for c in key):
        raise InvalidInput(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} visible ASCII characters "
            "without spaces (a UUID will do)"
        )
    return key


class Idempotency:
    """The create route's side of the header (see the module doc)."""

    def __init__(
        self,
        request: Request,
        session: AsyncSession,
        user_id: uuid.UUID,
        key: str | None,
        box: Callable[[], SecretBox],
    ) -> None:
        self.request = request
        self.session = session
        self.user_id = user_id
        self.key = _check_key(key) if key is not None else None
        self._box = box
        self._digest = ""

    def _owner(self) -> str:
        # A seal opens only for this account, key and request.
        return f"{self.user_id}\n{self.key}\n{self._digest}"

    def _seal(self, value: Any) -> dict[str, str]:
        return {SEALED: self._box().seal(json.dumps({"for": self._owner(), "value": value}))}

    def _unseal(self, sealed: str) -> Any:
        opened = json.loads(self._box().open(sealed))
        if opened.get("for") != self._owner():
            raise SecretUnreadable("this seal belongs to another request")
        return opened["value"]

    async def run(
        self,
        body: BaseModel | None,
        create: Callable[[], Awaitable[Created]],
        *,
        status_code: int,
        secret_fields: Iterable[str] = (),
        on_replay: Callable[[dict[str, Any]], Awaitable[None]] | None = None,
    ) -> Created | JSONResponse:
        """Run ``create`` once per key: it must commit the route's session (the key's row
        goes in that transaction). Without a key, just ``create()``. ``secret_fields`` of
        the answer are stored sealed; ``on_replay`` sees a stored answer (secrets opened)
        before it is sent again and may refuse it (raise)."""
        if self.key is None:
            return await create()
        digest = fingerprint(self.request.method, self.request.url.path, body)
        self._digest = digest
        stored_answer = await self._claim(digest)
        if stored_answer is not None:
            status, response = stored_answer
            answer = self._opened(response)
            if on_replay is not None:
                await on_replay(answer)
            return JSONResponse(answer, status_code=status, headers={"Idempotent-Replayed": "true"})
        try:
            created = await create()
        except BaseException:
            await self._forget()
            raise
        stored = created.model_dump(mode="json")
        for field in secret_fields:
            if field in stored:
                stored[field] = self._seal(stored[field])
        # An upsert: a create that ended its transaction early with a rollback (to poll,
        # say) took the key's row with it; the answer must be kept all the same.
        row = insert(IdempotencyKey).values(
            user_id=self.user_id,
            key=self.key,
            request_sha256=digest,
            expires_at=datetime.now(UTC) + KEEP_FOR,
            status_code=status_code,
            response=stored,
        )
        await self.session.execute(
            row.on_conflict_do_update(
                index_elements=[IdempotencyKey.user_id, IdempotencyKey.key],
                set_={"status_code": status_code, "response": stored},
                where=IdempotencyKey.request_sha256 == digest,
            )
        )
        await self.session.commit()
        return created

    async def _claim(self, digest: str) -> tuple[int, dict[str, Any]] | None:
        """Take the key in the session's transaction (None), or the first request's answer
        (status, stored body)."""
        now = datetime.now(UTC)
        # Expired keys of this account go (so an old key can be used again).
        await self.session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.user_id == self.user_id, IdempotencyKey.expires_at < now
            )
        )
        taken = await self.session.execute(
            insert(IdempotencyKey)
            .values(
                user_id=self.user_id,
                key=self.key,
                request_sha256=digest,
                expires_at=now + KEEP_FOR,
            )
            .on_conflict_do_nothing()
            .returning(IdempotencyKey.key)
        )
        if taken.first() is not None:
            return None
        await self.session.commit()
        deadline = asyncio.get_running_loop().time() + WAIT_FOR_FIRST
        while True:
            row = (
                await self.session.execute(
                    select(
                        IdempotencyKey.request_sha256,
                        IdempotencyKey.status_code,
                        IdempotencyKey.response,
                    ).where(IdempotencyKey.user_id == self.user_id, IdempotencyKey.key == self.key)
                )
            ).first()
            await self.session.commit()
            if row is None:  # the first request failed meanwhile: this one may create
                return await self._claim(digest)
            if row.request_sha256 != digest:
                raise InvalidInput(
                    f"this Idempotency-Key ({self.key!r}) was already used for a different "
                    "request (another path or body); use a new key for a new create"
                )
            if row.response is not None and row.status_code is not None:
                return row.status_code, row.response
            if asyncio.get_running_loop().time() > deadline:
                raise Conflict(
                    f"a request with this Idempotency-Key ({self.key!r}) is still being "
                    "processed; retry in a moment"
                )
            await asyncio.sleep(0.05)

    def _opened(self, response: dict[str, Any]) -> dict[str, Any]:
        """The stored answer with its sealed secrets opened."""
        what = ", ".join(f"{k} {v}" for k, v in response.items() if k in ("id", "name", "prefix"))
        answer = dict(response)
        for field, value in response.items():
            if value == REDACTED:
                raise Conflict(
                    f"this Idempotency-Key already created it ({what}); its secret was shown "
                    "once, to that first request"
                )
            if isinstance(value, dict) and set(value) == {SEALED}:
                try:
                    answer[field] = self._unseal(value[SEALED])
                except (SecretUnreadable, ValueError):
                    raise Conflict(
                        f"this Idempotency-Key already created it ({what}), but its secret "
                        "can no longer be shown (PHI_SECRETS_KEY changed since); revoke it "
                        "and create another with a new key"
                    ) from None
        return answer

    async def _forget(self) -> None:
        """After a failed create: drop the key if it was committed without an answer. The
        create's own error is what the client must see, so a failure here is swallowed."""
        with contextlib.suppress(Exception):
            await self.session.rollback()
            await self.session.execute(
                delete(IdempotencyKey).where(
                    IdempotencyKey.user_id == self.user_id,
                    IdempotencyKey.key == self.key,
                    IdempotencyKey.response.is_(None),
                )
            )
            await self.session.commit()


async def get_idempotency(
    request: Request, session: SessionDep, user_id: CurrentUserId, key: KeyHeader = None
) -> Idempotency:
    settings = get_settings_dep(request)
    return Idempotency(request, session, user_id, key, lambda: settings.secret_box)


IdempotencyDep = Annotated[Idempotency, Depends(get_idempotency)]

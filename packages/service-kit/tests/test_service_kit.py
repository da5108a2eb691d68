"""The shared service pieces on their own: tokens, job context, route enumeration."""

from __future__ import annotations

import time
import uuid
from types import SimpleNamespace

import pytest
from fastapi import FastAPI

from phi_service.jobs import MAINTENANCE_QUEUE, context_value, create_job_app
from phi_service.testing import scoped_routes
from phi_service.tokens import VerifiedTokens, create_access_token, decode_access_token


def test_token_round_trip_and_refusals() -> None:
    user_id = uuid.uuid4()
    token, expires_in = create_access_token(user_id, "s" * 48, ttl_minutes=5)
    assert expires_in == 300
    assert decode_access_token(token, "s" * 48) == user_id
    assert decode_access_token(token, "t" * 48) is None  # another secret
    expired, _ = create_access_token(user_id, "s" * 48, ttl_minutes=-1)
    assert decode_access_token(expired, "s" * 48) is None
    assert decode_access_token("not-a-token", "s" * 48) is None


def test_context_value_names_the_missing_resource() -> None:
    context = SimpleNamespace(additional_context={"settings": 1})
    assert context_value(context, "settings") == 1  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="no 'embedder'"):
        context_value(context, "embedder")  # type: ignore[arg-type]


def test_job_app_puts_maintenance_on_its_own_queue() -> None:
    app = create_job_app("postgresql://unused/db", {})
    task = app.tasks["maintenance:retry_stalled_jobs"]
    assert task.queue == MAINTENANCE_QUEUE


def test_scoped_routes_lists_routes_with_tenant_parameters() -> None:
    app = FastAPI()

    @app.get("/things/{thing_id}")
    def thing(thing_id: str) -> str:
        return thing_id

    @app.get("/health")
    def health() -> str:
        return "ok"

    @app.get("/catalog/{key}")
    def catalog(key: str) -> str:
        return key

    assert scoped_routes(app) == {"GET /things/{thing_id}", "GET /catalog/{key}"}
    assert scoped_routes(app, public_params={"key"}) == {"GET /things/{thing_id}"}


def test_verified_tokens_remember_only_valid_tokens_until_they_expire(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    user_id = uuid.uuid4()
    tokens = VerifiedTokens("s" * 48, max_size=2)
    token, ttl = create_access_token(user_id, "s" * 48, ttl_minutes=1)
    assert tokens.user_id(token) == user_id
    assert tokens.user_id(token) == user_id  # from memory
    other, _ = create_access_token(user_id, "t" * 48, ttl_minutes=1)
    assert tokens.user_id(other) is None  # another secret's token is never let in
    assert tokens.user_id("not-a-token") is None
    assert len(tokens._tokens) == 1
    # Once its expiry has passed the remembered token is refused and forgotten.
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + ttl + 1)
    assert tokens.user_id(token) is None
    assert not tokens._tokens
    monkeypatch.undo()
    # Bounded: the least recently used token goes first.
    many = [create_access_token(uuid.uuid4(), "s" * 48, ttl_minutes=1)[0] for _ in range(3)]
    for t in many:
        tokens.user_id(t)
    assert list(tokens._tokens) == many[1:]

"""Hostile-input guards every service installs (``install_input_guards``).

* **Body size.** Every route's request body is capped (413 before the body is read when
  Content-Length says it is too large, else as soon as it passes the limit); the upload
  routes are left to their own, larger limit. A 400 MB JSON body to ``POST /auth/login``
  used to be read whole (1.75 GB of API memory).
* **JSON the services cannot store or answer.** Python's JSON parser accepts ``NaN``,
  ``Infinity`` and lone UTF-16 surrogates (``"\\ud800"``); pydantic lets them through some
  fields, and then PostgreSQL, the UTF-8 encoder or the error response itself (which cannot
  render NaN) failed with a 500. :class:`RequestGuard` answers 422 for them before any
  route runs.
* **JSON nested too deep.** Python's parser recurses once per ``[`` or ``{``: about a thousand
  levels raised RecursionError, a 500 that also dropped the keep-alive connection, on every
  JSON route, unauthenticated ones included. :func:`json_depth_exceeds` counts the nesting
  before anything parses the body, and more than :data:`MAX_JSON_DEPTH` levels get 422.
* **Validation errors that echo input.** FastAPI's 422 repeats each invalid input in full:
  a password, or a 400 MB string. :func:`safe_validation_errors` drops the input of secret
  fields and cuts every other one to a short prefix.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from itertools import accumulate
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Deepest nesting of arrays and objects a JSON body may have. No route's schema comes close
# (tool settings and results are a few levels deep); Python's own limit is about 1000.
MAX_JSON_DEPTH = 64
# A JSON string, escapes included (unrolled so that long strings do not make it backtrack).
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
# Bytes other than brackets, dropped before the depth is counted.
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_BRACKET_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
# Longest prefix of an invalid input a 422 repeats.
ECHO_PREFIX = 40
# Field names whose values are never repeated (matched as substrings of the lower-cased name).
SECRET_MARKERS = ("password", "secret", "token", "api_key", "apikey", "authorization")


def is_secret_field(loc: tuple[Any, ...] | list[Any]) -> bool:
    return any(
        isinstance(part, str) and any(marker in part.lower() for marker in SECRET_MARKERS)
        for part in loc
    )


def _short(value: Any) -> Any:
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        text = value.encode("utf-8", "replace").decode("utf-8")
        return text if len(text) <= ECHO_PREFIX else text[:ECHO_PREFIX] + "…"
    # Objects and lists: only what they are, never their content.
    return f"<{type(value).__name__}>"


def safe_validation_errors(errors: Any) -> list[dict[str, Any]]:
    """FastAPI's validation errors with no secret and no long input in them."""
    out = []
    for error in errors:
        loc = list(error.get("loc", ()))
        item: dict[str, Any] = {
            "type": error.get("type"),
            "loc": loc,
            "msg": _short_message(str(error.get("msg", ""))),
        }
        if "input" in error:
            item["input"] = "[hidden]" if is_secret_field(loc) else _short(error["input"])
        ctx = error.get("ctx")
        if isinstance(ctx, dict):
            item["ctx"] = {k: _short(v) for k, v in ctx.items()}
        out.append(item)
    return out


def _short_message(msg: str) -> str:
    # Messages quote allowed values or a parser error, never the whole input; cap them anyway.
    return msg if len(msg) <= 300 else msg[:300] + "…"


async def validation_error_handler(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": safe_validation_errors(exc.errors())}, status_code=422)


class _Rejected(ValueError):
    def __init__(self, kind: str, msg: str) -> None:
        super().__init__(msg)
        self.kind = kind
        self.msg = msg


def _reject_constant(name: str) -> Any:
    raise _Rejected("json_non_finite", f"{name} is not a JSON number; send a finite number")


def _check_strings(value: Any) -> None:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise _Rejected(
                "json_invalid_unicode",
                "text contains a lone UTF-16 surrogate (\\ud800-\\udfff); send valid Unicode",
            ) from None
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_strings(k)
            _check_strings(v)
    elif isinstance(value, list):
        for v in value:
            _check_strings(v)


def json_depth_exceeds(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether ``body`` nests arrays and objects more than ``limit`` levels deep, found
    without parsing it (brackets inside strings do not count).

    On invalid JSON the count may be off, but only after the point where a parser would
    have stopped anyway, so it never lets through what a parser would recurse on."""
    outside_strings = _JSON_STRING.sub(b"", body)
    brackets = outside_strings.translate(None, _NOT_BRACKETS)
    if len(brackets) <= limit:
        return False
    return max(accumulate(map(_BRACKET_STEP.__getitem__, brackets))) > limit


def check_json(body: bytes) -> tuple[str, str] | None:
    """``(error type, message)`` when ``body`` is JSON the services must refuse, else None
    (invalid JSON is left to FastAPI, which answers its own 422)."""
    if json_depth_exceeds(body):
        return (
            "json_too_deep",
            f"arrays and objects are nested more than {MAX_JSON_DEPTH} levels deep",
        )
    try:
        value = json.loads(body, parse_constant=_reject_constant)
    except _Rejected as exc:
        return exc.kind, exc.msg
    except ValueError:
        return None
    # Surrogates can only arrive as \u escapes (raw UTF-8 cannot encode them).
    if b"\\u" in body or b"\\U" in body:
        try:
            _check_strings(value)
        except _Rejected as exc:
            return exc.kind, exc.msg
    return None


class RequestGuard:
    """ASGI middleware: caps request bodies (413) and refuses unstorable JSON (422).

    ``max_bytes`` applies to every request except those ``exempt`` picks (the upload
    routes, which enforce their own, larger limit): a Content-Length over it is answered
    before any of the body is read; a body without one is cut off as soon as it passes it.
    A JSON body is read whole (it is at most ``max_bytes``) and checked with
    :func:`check_json` before the route sees the same bytes."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, exempt: Callable[[Scope], bool] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (self.exempt is not None and self.exempt(scope)):
            await self.app(scope, receive, send)
            return
        content_type = b""
        length: int | None = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value.split(b";", 1)[0].strip().lower()
            elif name == b"content-length":
                length = int(value) if value.isdigit() else None
        if length is not None and length > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        # FastAPI parses a body that has no Content-Type as JSON too.
        is_json = content_type in (b"", b"application/json") or content_type.endswith(b"+json")
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        problem = check_json(body) if is_json and body else None
        if problem is not None:
            kind, msg = problem
            response = JSONResponse(
                {"detail": [{"type": kind, "loc": ["body"], "msg": msg}]}, status_code=422
            )
            await response(scope, receive, send)
            return
        await self.app(scope, _replay([_body(body, False)], receive), send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = self.max_bytes
        shown = f"{limit // 1024} KB" if limit < 1024 * 1024 else f"{limit // (1024 * 1024)} MB"
        response = JSONResponse(
            {"detail": f"the request body is larger than the limit of {shown}"},
            status_code=413,
            # The rest of the body is not read: the connection cannot be reused.
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)


def _body(data: bytes, more: bool) -> Message:
    return {"type": "http.request", "body": data, "more_body": more}


def _replay(messages: list[Message], then: Receive) -> Receive:
    """Hands ``messages`` on first, then what the server sends (the client's disconnect)."""
    queue = list(messages)

    async def receive() -> Message:
        if queue:
            return queue.pop(0)
        return await then()

    return receive


def install_input_guards(
    app: FastAPI, *, max_bytes: int, exempt: Callable[[Scope], bool] | None = None
) -> None:
    """Body-size cap, 422 for unstorable JSON, and validation errors that repeat no secret
    and no long input (see the module docstring)."""
    # A service that formats its own validation errors (the router's OpenAI-style ones, which
    # already leave the input out) keeps its handler; FastAPI's default one is replaced.
    if app.exception_handlers.get(RequestValidationError) in (
        None,
        request_validation_exception_handler,
    ):
        app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_middleware(RequestGuard, max_bytes=max_bytes, exempt=exempt)

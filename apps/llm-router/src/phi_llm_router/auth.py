"""The service token every caller presents, checked before a request body is read."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

PUBLIC_PATHS = frozenset(
    {"/health", "/ready", "/metrics", "/docs", "/openapi.json", "/docs/oauth2-redirect"}
)
# Prompts may be up to 1M characters (4 MB of UTF-8) and chats hold many messages.
MAX_REQUEST_BYTES = 8 * 1024 * 1024


class ServiceTokenMiddleware:
    """Refuses every request without the service token, before its body is even read."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PUBLIC_PATHS:
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"authorization", b"")
        if secrets.compare_digest(given, self.expected):
            await self.app(scope, receive, send)
            return
        message = "missing or wrong service token (send Authorization: Bearer <token>)"
        if scope["path"].startswith("/v1/"):
            body: dict[str, Any] = {
                "error": {"message": message, "type": "invalid_api_key", "code": "invalid_api_key"}
            }
        else:
            body = {"detail": message}
        response = JSONResponse(body, status_code=401, headers={"WWW-Authenticate": "Bearer"})
        await response(scope, receive, send)

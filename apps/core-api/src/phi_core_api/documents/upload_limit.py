"""Refuse oversized uploads with 413 while the body is still arriving.

FastAPI parses the whole multipart body before the endpoint runs, so the size check cannot
live in the endpoint alone: this ASGI middleware refuses a declared Content-Length over the
limit without reading the body, and stops a body without Content-Length (chunked) as soon as
it passes the limit. The endpoint checks the file's own size exactly afterwards.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Room for the multipart framing and the other form fields around the file.
MULTIPART_OVERHEAD = 64 * 1024


def too_large_detail(limit: int) -> str:
    return f"the file is larger than the upload limit of {limit // (1024 * 1024)} MB"


class UploadTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        # A starlette HTTPException passes through FastAPI's body parsing unchanged.
        super().__init__(status_code=413, detail=too_large_detail(limit))


def is_upload(scope: Scope) -> bool:
    """A file upload (``POST .../documents``): these routes have this limit instead of the
    API's general cap on request bodies."""
    return bool(scope["method"] == "POST" and scope["path"].rstrip("/").endswith("/documents"))


class UploadSizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_body = max_bytes + MULTIPART_OVERHEAD

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_upload(scope):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            await self._refuse(send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise UploadTooLarge(self.max_bytes)
            return message

        await self.app(scope, counting_receive, send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps({"detail": too_large_detail(self.max_bytes)}).encode()
        headers: list[Any] = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})

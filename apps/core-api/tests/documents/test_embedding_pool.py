"""Search questions embedded in the API's own process pool (phi_search.query_embedding): a
listing never waits for an embedding, a killed pool process is replaced, and the pool starts
with the first search and stops with the API."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx
import psutil
from core_factories import create_agent, create_org, signup
from document_api import search


def _tenant(c: httpx.Client) -> tuple[Any, str, str]:
    owner = signup(c)
    org = create_org(c, owner)
    return owner, org["id"], create_agent(c, owner, org["id"])["id"]


def _pids(server: Any) -> list[int]:
    return server.app.state.embedding_pool.pids()  # type: ignore[no-any-return]


@contextmanager
def _stopped(pid: int) -> Iterator[None]:
    """The process frozen (SIGSTOP) as if busy with a long embedding, resumed on the way out."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        if psutil.pid_exists(pid):
            os.kill(pid, signal.SIGCONT)


def _in_background(call: Callable[[], httpx.Response]) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(call()), daemon=True)
    thread.start()
    return thread, out


def test_a_listing_is_answered_while_the_embedding_process_is_busy(
    start_server: Callable[..., Any],
) -> None:
    server = start_server(search_embed_processes=1)
    with httpx.Client(base_url=server.url, timeout=60) as c:
        owner, org, agent = _tenant(c)
        assert search(c, owner, agent, "forklift keys").status_code == 200
        [pid] = _pids(server)
        with _stopped(pid):
            thread, answer = _in_background(
                lambda: search(c, owner, agent, "who signs the incident report")
            )
            time.sleep(0.5)
            assert not answer, "the search cannot finish while its embedding is frozen"
            t0 = time.monotonic()
            r = c.get(f"/orgs/{org}/agents", headers=owner.headers, timeout=5)
            assert r.status_code == 200, r.text
            assert time.monotonic() - t0 < 3
            assert not answer
        thread.join(60)
        assert answer and answer[0].status_code == 200, answer


def test_a_killed_embedding_process_is_replaced(start_server: Callable[..., Any]) -> None:
    server = start_server(search_embed_processes=1)
    with httpx.Client(base_url=server.url, timeout=60) as c:
        owner, _, agent = _tenant(c)
        assert search(c, owner, agent, "cold room checks").status_code == 200
        [first] = _pids(server)

        # Killed while idle: the next search starts a new process.
        os.kill(first, signal.SIGKILL)
        psutil.Process(first).wait(10) if psutil.pid_exists(first) else None
        r = search(c, owner, agent, "damaged pallets")
        assert r.status_code == 200, r.text
        [second] = _pids(server)
        assert second != first

        # Killed in the middle of a question: that question is embedded again by a new one.
        with _stopped(second):
            thread, answer = _in_background(lambda: search(c, owner, agent, "trailer seal"))
            time.sleep(0.5)
            os.kill(second, signal.SIGKILL)
        thread.join(60)
        assert answer and answer[0].status_code == 200, answer[0].text
        [third] = _pids(server)
        assert third not in (first, second)


def test_the_pool_starts_with_the_first_search_and_stops_with_the_api(
    start_server: Callable[..., Any],
) -> None:
    server = start_server(search_embed_processes=1)
    assert _pids(server) == []  # nothing before anyone searches
    with httpx.Client(base_url=server.url, timeout=60) as c:
        owner, _, agent = _tenant(c)
        assert _pids(server) == []
        # Many questions at once: still one process, every one answered.
        with ThreadPoolExecutor(8) as threads:
            answers = list(
                threads.map(lambda i: search(c, owner, agent, f"shift report {i}"), range(8))
            )
        assert [r.status_code for r in answers] == [200] * 8
        [pid] = _pids(server)
    server.stop()
    assert not psutil.pid_exists(pid), "the embedding process outlived the API"

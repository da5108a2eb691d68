"""``phi_service.http.serve`` and ``worker_main`` in real processes: the start-up heap is
frozen once the lifespan has run, memory is trimmed while they run, and a failed start still
ends the process with an error status."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import httpx

from phi_platform.embedded_pg import free_port

APP = textwrap.dedent(
    """
    import gc, sys
    from contextlib import asynccontextmanager
    from fastapi import FastAPI
    from phi_service.http import serve

    @asynccontextmanager
    async def lifespan(app):
        if sys.argv[2] == "fail":
            raise RuntimeError("start refused")
        app.state.made_at_start = [[i] for i in range(50_000)]  # alive for good
        yield

    app = FastAPI(lifespan=lifespan)

    @app.get("/gc")
    async def state():
        import asyncio
        tasks = {t.get_coro().__qualname__ for t in asyncio.all_tasks()}
        return {"frozen": gc.get_freeze_count(), "threshold": gc.get_threshold()[0],
                "enabled": gc.isenabled(), "trimming": "trim_memory_periodically" in tasks}

    serve(app, service="test", host="127.0.0.1", port=int(sys.argv[1]))
    """
)


def test_serve_freezes_what_the_start_made_and_keeps_collecting() -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", APP, str(port), "ok"])
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                state = httpx.get(f"http://127.0.0.1:{port}/gc", timeout=2).json()
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    # the 50,000 lists the lifespan made (and the imports before them) are out of reach of
    # every collection from now on; collections still run, young ones less often
    assert state["frozen"] > 50_000
    assert state["enabled"] is True
    assert state["threshold"] == 5000
    assert state["trimming"] is True  # freed memory is handed back now and then


def test_a_worker_trims_its_memory_while_it_runs() -> None:
    code = textwrap.dedent(
        """
        import asyncio
        from phi_service.worker import worker_main

        async def run():
            await asyncio.sleep(0)
            print(sorted(t.get_coro().__qualname__ for t in asyncio.all_tasks()))

        worker_main(run)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "trim_memory_periodically" in done.stdout


def test_a_failed_start_ends_the_process_with_an_error() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", APP, str(free_port()), "fail"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 3
    assert "start refused" in proc.stdout + proc.stderr

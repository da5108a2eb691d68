"""EmbeddingProcessPool on its own (real child processes, the local model)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import numpy as np
import psutil

from phi_search.query_embedding import EmbeddingProcessPool


def test_a_question_asked_right_after_an_answer_is_embedded() -> None:
    # The caller resumes with its vector before the batch's lane has finished: a question it
    # asks at once must still be sent (it waited forever when the lane was counted as running
    # until its done-callback ran).
    async def run() -> tuple[np.ndarray, np.ndarray]:
        pool = EmbeddingProcessPool(SimpleNamespace(embedding_provider="local"), 1)
        try:
            first = await pool.aembed_query("forklift keys")
            # Asked in the same step of this task (not through a new task, which would run
            # only after the lane's callbacks).
            second = await pool.aembed_query("trailer seal")
            return first, second
        finally:
            await pool.aclose()

    first, second = asyncio.run(asyncio.wait_for(run(), 60))
    assert first.shape == second.shape == (384,)
    assert not np.allclose(first, second)


def test_idle_children_are_stopped_and_come_back_for_the_next_question() -> None:
    def alive(pids: list[int]) -> list[int]:
        return [
            pid
            for pid in pids
            if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        ]

    async def run() -> tuple[list[int], list[int], np.ndarray]:
        pool = EmbeddingProcessPool(SimpleNamespace(embedding_provider="local"), 1, 0.5)
        try:
            await pool.aembed_query("forklift keys")
            running = pool.pids()
            deadline = asyncio.get_running_loop().time() + 15
            while alive(running) and asyncio.get_running_loop().time() < deadline:
                await asyncio.sleep(0.1)
            again = await pool.aembed_query("trailer seal")
            return running, alive(running), again
        finally:
            await pool.aclose()

    running, still_alive, again = asyncio.run(asyncio.wait_for(run(), 90))
    assert running and not still_alive  # the process itself exited, its memory went back
    assert again.shape == (384,)

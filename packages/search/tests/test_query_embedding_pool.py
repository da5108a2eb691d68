"""EmbeddingProcessPool on its own (real child processes, the local model)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import numpy as np

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

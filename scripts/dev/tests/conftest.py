from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def data_home() -> Iterator[Path]:
    """A folder outside pytest's tmp root for a stack's data: every pytest run on the machine
    resets that root to mode 0700, which (running as root) would lock the PostgreSQL system
    user out of its data in the middle of a test."""
    path = Path(tempfile.mkdtemp(prefix="phi-dev-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)

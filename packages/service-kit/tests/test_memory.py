"""phi_service.memory in real processes: the arena cap holds with many allocating threads,
a trim gives a freed heap back, and served apps and workers trim on their own."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from phi_service.memory import _LIBC

pytestmark = pytest.mark.skipif(_LIBC is None, reason="glibc's malloc only")


def run_python(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


ARENAS = """
    import ctypes, os, sys, tempfile, threading
    from phi_service.memory import _LIBC, limit_malloc_arenas

    if sys.argv[1] == "limit":
        assert limit_malloc_arenas()
    barrier = threading.Barrier(8)

    def allocate():
        barrier.wait()  # all at once, so that each would want an arena of its own
        kept = [bytes(2000) for _ in range(20_000)]
        barrier.wait()

    threads = [threading.Thread(target=allocate) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    path = tempfile.mktemp()
    libc = ctypes.CDLL("libc.so.6")
    libc.fopen.restype = ctypes.c_void_p
    fp = libc.fopen(path.encode(), b"w")
    _LIBC.malloc_info(0, ctypes.c_void_p(fp))
    libc.fclose(ctypes.c_void_p(fp))
    print(open(path).read().count("<heap nr="))
    os.unlink(path)
"""


def test_the_arena_cap_holds_with_eight_threads_allocating_at_once() -> None:
    default = int(run_python(ARENAS.replace("sys.argv[1]", "'default'")))
    capped = int(run_python(ARENAS.replace("sys.argv[1]", "'limit'")))
    assert default > 2  # without the cap the threads spread over more arenas
    assert capped <= 2


def test_a_trim_gives_a_freed_heap_back() -> None:
    out = run_python(
        """
        import psutil
        from phi_service.memory import release_free_memory

        me = psutil.Process()
        blocks = [bytes(100_000) for _ in range(2000)]  # 200 MB from malloc's heap
        pin = bytes(100_000)  # above them: free() alone cannot shrink the heap's top
        full = me.memory_info().rss
        del blocks
        freed = me.memory_info().rss
        assert release_free_memory()
        trimmed = me.memory_info().rss
        print(full >> 20, freed >> 20, trimmed >> 20)
        """
    )
    full, freed, trimmed = map(int, out.split())
    assert freed > full - 50  # free() kept it
    assert trimmed < freed - 100  # the trim gave it back

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


def test_the_pages_of_a_read_only_mapped_file_go_back_and_its_data_stays() -> None:
    out = run_python(
        """
        import mmap, os, tempfile
        import psutil
        from phi_service.memory import release_file_pages

        me = psutil.Process()
        path = os.path.realpath(tempfile.mktemp())
        with open(path, "wb") as f:
            f.write(bytes(range(256)) * (64 * 4096))  # 64 MB
        with open(path, "rb") as f:
            read_only = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        with open(path, "rb") as f:
            written = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)  # rw-p
        written[:5] = b"mine!"
        before = me.memory_info().rss
        total = sum(read_only[i] for i in range(0, len(read_only), 4096))  # every page
        touched = me.memory_info().rss
        advised = release_file_pages([path, "/no/such/file"])
        released = me.memory_info().rss
        assert sum(read_only[i] for i in range(0, len(read_only), 4096)) == total
        assert written[:5] == b"mine!"  # a writable mapping keeps its pages
        os.unlink(path)
        print(before >> 20, touched >> 20, released >> 20, advised >> 20)
        """
    )
    before, touched, released, advised = map(int, out.split())
    assert touched > before + 50  # reading the file made it resident
    assert advised == 64  # the read-only mapping only
    assert released < touched - 50  # dropped from the process


def test_a_trim_lets_registered_releasers_give_back_first() -> None:
    out = run_python(
        """
        import gc
        from phi_service.memory import on_release, release_free_memory

        calls = []

        class Model:
            def release_idle_memory(self):
                calls.append(id(self))

        class Failing:
            def release_idle_memory(self):
                raise RuntimeError("broken")

        kept, gone, failing = Model(), Model(), Failing()
        on_release(failing)
        on_release(kept)
        on_release(gone)
        del gone  # held weakly: no longer called
        gc.collect()
        assert release_free_memory()  # a releaser that fails does not stop the others
        print(calls == [id(kept)])
        """
    )
    assert out.strip() == "True"

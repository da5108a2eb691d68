"""Giving memory a process no longer uses back to the system (issue 24, goal 3).

A Python object larger than 512 bytes (a request body, a document's text, an array of
embeddings) comes from the C library's ``malloc``. glibc keeps what is freed for the next
allocation instead of returning it, and gives each thread that allocates at the same time as
another an arena of its own (up to eight per core), each keeping its own free memory: after
a burst of work a process can sit tens of MB above its idle size with nothing in use.

* ``limit_malloc_arenas`` caps the arenas at two (as ``MALLOC_ARENA_MAX=2`` would), called
  when a process starts, before its threads;
* ``release_free_memory`` is ``malloc_trim(0)``: every arena hands its whole free pages back;
* ``trim_memory_periodically`` does that every ``interval`` seconds while the process runs
  (a trim of a service's heap takes about a millisecond).

Not all of a process's resident memory is malloc's. A model mapped from its file (the local
embedding model, 72 MB) becomes resident page by page as texts use its rows: a worker that
has embedded a few hundred documents holds tens of MB more of it than at start, for ever.
Those pages are clean copies of the file: dropped from the process, they stay in the page
cache and come back on the next use at the cost of a minor fault each.

* ``release_file_pages`` drops the pages of a process's read-only mappings of given files;
* ``on_release`` registers an object whose ``release_idle_memory()`` runs before every trim
  (held weakly): the local embedding model drops its pages there once it has been idle.

On a C library other than glibc (musl, macOS) they do nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import weakref
from collections.abc import Collection
from typing import Protocol

logger = logging.getLogger(__name__)

M_ARENA_MAX = -8  # mallopt's parameter (glibc's malloc.h)
MALLOC_ARENAS = 2
TRIM_INTERVAL_SECONDS = 30.0


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018  (glibc only)
        libc.mallopt  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _glibc()


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """At most ``arenas`` malloc arenas in this process from now on; False without glibc."""
    return _LIBC is not None and bool(_LIBC.mallopt(M_ARENA_MAX, arenas))


MADV_DONTNEED = 4  # madvise's advice (Linux): drop the range's pages from this process


class Releaser(Protocol):
    def release_idle_memory(self) -> object: ...


_RELEASERS: weakref.WeakSet[Releaser] = weakref.WeakSet()


def on_release(releaser: Releaser) -> None:
    """Call ``releaser.release_idle_memory()`` at every ``release_free_memory`` from now on,
    for as long as ``releaser`` lives (it is held weakly). It runs on the thread that trims
    (a service's event loop): it must be quick and decide for itself whether it is idle."""
    _RELEASERS.add(releaser)


def release_file_pages(paths: Collection[str], maps: str = "/proc/self/maps") -> int:
    """Drop this process's resident pages of its read-only mappings of the files ``paths``
    (``madvise(MADV_DONTNEED)``); returns the bytes of the mappings advised, 0 where there is
    no /proc or no glibc. The data stays in the page cache: the next read of a page maps it
    again. Writable mappings are left alone (their private pages would be lost)."""
    if _LIBC is None or not paths:
        return 0
    wanted = set(paths)
    ranges = []
    try:
        with open(maps) as lines:
            for line in lines:
                fields = line.split(None, 5)
                if len(fields) < 6 or fields[5].rstrip("\n") not in wanted:
                    continue
                if fields[1][:2] != "r-":  # readable, not writable
                    continue
                start, end = (int(x, 16) for x in fields[0].split("-"))
                ranges.append((start, end))
    except OSError:
        return 0
    advised = 0
    for start, end in ranges:
        if _LIBC.madvise(ctypes.c_void_p(start), ctypes.c_size_t(end - start), MADV_DONTNEED) == 0:
            advised += end - start
    return advised


def release_free_memory() -> bool:
    """Let every registered releaser (``on_release``) give back what it holds while idle,
    then return the free pages of every malloc arena to the system; False without glibc."""
    if _LIBC is None:
        return False
    for releaser in list(_RELEASERS):
        try:
            releaser.release_idle_memory()
        except Exception:  # a releaser's failure must not stop the trim
            logger.exception("releasing the idle memory of %r failed", releaser)
    _LIBC.malloc_trim(0)
    return True


async def trim_memory_periodically(interval: float = TRIM_INTERVAL_SECONDS) -> None:
    """Run ``release_free_memory`` every ``interval`` seconds until cancelled."""
    if _LIBC is None:
        return
    while True:
        await asyncio.sleep(interval)
        try:
            release_free_memory()
        except Exception:  # never let memory housekeeping take a service down
            logger.exception("malloc_trim failed")
            return

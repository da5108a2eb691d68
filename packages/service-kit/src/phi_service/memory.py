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

On a C library other than glibc (musl, macOS) they do nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging

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


def release_free_memory() -> bool:
    """Return the free pages of every malloc arena to the system; False without glibc."""
    if _LIBC is None:
        return False
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

"""Counting the round trips psycopg connections make to PostgreSQL, for tests and benches.

libpq's trace (``PQtrace``) writes every protocol message of a connection to a file. Each
``ReadyForQuery`` the server sends ends one exchange the client waited for: a simple query,
or the extended-protocol messages up to a ``Sync`` (a pipeline's statements share one). Their
number is the number of times the client waited on the server: the round trips, whatever
the statements were. Tracing slows a connection down: never on in production.

    trips = RoundTrips()
    pool = AsyncConnectionPool(..., configure=trips.trace)  # or: await trips.trace(conn)
    before = trips.count()
    ...  # the work measured
    print(trips.count() - before)
"""

from __future__ import annotations

import ctypes
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

from psycopg import AsyncConnection
from psycopg.pq import Trace


class RoundTrips:
    """The round trips of every connection given to :meth:`trace` (Linux only: libpq writes
    the trace through a C ``FILE`` on the file's descriptor)."""

    def __init__(self) -> None:
        if sys.platform != "linux":
            raise RuntimeError("libpq tracing through psycopg works on Linux only")
        self._dir = tempfile.TemporaryDirectory(prefix="phi-pq-trace-")
        self._files: list[IO[str]] = []

    async def trace(self, conn: AsyncConnection[Any]) -> None:
        """Trace ``conn`` from now on (fits a psycopg pool's ``configure`` callback)."""
        file = (Path(self._dir.name) / f"{len(self._files)}.trace").open("w")
        self._files.append(file)
        conn.pgconn.trace(file.fileno())
        conn.pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS)

    def count(self) -> int:
        """Round trips of the traced connections so far."""
        # libpq writes through its own buffered FILE: flush every C stream first.
        ctypes.CDLL(None).fflush(None)
        total = 0
        for file in self._files:
            with open(file.name) as text:
                total += sum(
                    1 for line in text if line.startswith("B\t") and "\tReadyForQuery" in line
                )
        return total

    def close(self) -> None:
        """Once the traced connections are closed (libpq keeps writing to the file's
        descriptor while they live)."""
        for file in self._files:
            file.close()
        self._dir.cleanup()

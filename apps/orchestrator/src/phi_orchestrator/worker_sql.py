"""SQLAlchemy statements for the worker's psycopg connections.

The worker shares one psycopg pool with LangGraph's checkpointer, and some of its writes must
go in the checkpointer's own transactions, so they cannot run through a SQLAlchemy session.
The repositories still build those statements from the shared models; :func:`worker_sql`
compiles one once, at import, for psycopg (named ``%(name)s`` placeholders).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from psycopg import AsyncConnection, AsyncCursor
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

_DIALECT = postgresql.psycopg.dialect()  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class WorkerSql:
    """A compiled statement: its text and the values of the constants written in it (the
    placeholders, ``bindparam(name)`` without a value, are given at each run)."""

    sql: str
    constants: Mapping[str, Any]

    async def execute(
        self, conn: AsyncConnection[Any], *, binary: bool = False, **values: Any
    ) -> AsyncCursor[Any]:
        """Run it with ``values``; ``binary``: results in PostgreSQL's binary format (a
        ``bytea`` comes as its bytes, not twice as many hex digits)."""
        return await conn.execute(self.sql, {**self.constants, **values}, binary=binary)


def worker_sql(statement: ClauseElement) -> WorkerSql:
    compiled = cast(SQLCompiler, statement.compile(dialect=_DIALECT))
    sql = str(compiled)
    # An IN list of constants is expanded at run time by SQLAlchemy only: write ORs instead.
    if "POSTCOMPILE" in sql:
        raise ValueError(f"statement needs SQLAlchemy to run it: {sql}")
    constants = {
        name: bind.value for bind, name in compiled.bind_names.items() if not bind.required
    }
    return WorkerSql(sql, constants)

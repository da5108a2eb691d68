"""The ``db`` tool's schema listing (payload ``{"action": "schema", "connection": ...}``): the
tables and views of a connection that the policy lets the agent read, with their columns.

Only what the policy allows is listed: with ``allowed_tables`` set, exactly those (any other
table is not even named), otherwise every table and view of the connection's default schema.
The listing reads the database's catalog through SQLAlchemy's inspector on the same read-only
engine the queries use, and is recorded in the audit log like a query.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError

from phi_agent.registry import ToolFailed, ToolRefused

if TYPE_CHECKING:
    from phi_agent.tools.db import DbTool

# A listing is for a model to read: past this many tables it says how many were left out.
MAX_TABLES = 200


def list_schema(tool: DbTool, payload: dict[str, Any]) -> str:
    """The allowed tables and views of the payload's connection, with their columns (JSON)."""
    from phi_agent.tools.db import _encode

    connection = payload.get("connection")
    if connection is not None and not isinstance(connection, str):
        raise ToolRefused("payload.connection must be a name or null")
    conn_name, conn, _ = tool.connection(connection)
    allowed = {t.lower() for t in conn.allowed_tables} if conn.allowed_tables is not None else None
    started = time.perf_counter()
    engine = tool._engine(conn_name, conn)
    tables: list[dict[str, Any]] = []
    try:
        inspector = inspect(engine)
        found = [(name, "table") for name in inspector.get_table_names()]
        found += [(name, "view") for name in inspector.get_view_names()]
        listed = sorted(
            (name, kind) for name, kind in found if allowed is None or name.lower() in allowed
        )
        for name, kind in listed[:MAX_TABLES]:
            columns = [
                {
                    "name": column["name"],
                    "type": str(column["type"]),
                    "nullable": bool(column.get("nullable", True)),
                }
                for column in inspector.get_columns(name)
            ]
            tables.append({"name": name, "kind": kind, "columns": columns})
    except SQLAlchemyError as exc:
        raise ToolFailed(f"cannot list the tables of '{conn_name}': {exc}") from exc
    tool.audit.record(
        "schema",
        tool="db",
        connection=conn_name,
        tables=len(tables),
        ms=round((time.perf_counter() - started) * 1000, 1),
    )
    return _encode(
        {
            "connection": conn_name,
            "dialect": engine.dialect.name,
            "tables": tables,
            "tables_left_out": max(0, len(listed) - MAX_TABLES),
        }
    )

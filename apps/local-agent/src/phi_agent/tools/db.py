"""The ``db`` tool: read-only SQL on the policy's named connections, streamed under limits.

Read-only is enforced twice: :func:`phi_agent.sql_guard.check_select` refuses anything but
one SELECT before the database sees it, and the statement then runs in a read-only
transaction (PostgreSQL ``SET TRANSACTION READ ONLY``, MySQL and MariaDB
``START TRANSACTION READ ONLY``, SQLite opened read-only with ``query_only``). Each connection
has a statement timeout, a row limit and a result-size limit. Rows are fetched in batches from
a server-side cursor and encoded as they come, so memory follows the result-size limit, not
the size of the query.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import sqlite3
import threading
import time
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from phi_agent.audit import AuditLog
from phi_agent.contract_mapping import apply_mappings
from phi_agent.policy import DatabaseConnection, Policy
from phi_agent.registry import CheckLine, ToolFailed, ToolRefused, register
from phi_agent.sql_guard import SqlRefused, check_select, dialect_for

BATCH_ROWS = 2_000
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def sqlalchemy_url(dsn: str) -> str:
    """The DSN with this package's drivers: psycopg for PostgreSQL, PyMySQL for MySQL."""
    url = make_url(dsn)
    backend = url.get_backend_name()
    if backend == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    elif backend == "mysql":
        url = url.set(drivername="mysql+pymysql")
    elif backend == "sqlite":
        database = url.database or ""
        if not database or database == ":memory:":
            raise ValueError("a SQLite connection needs a database file")
        # Opened read-only by SQLite itself: a write fails even if it got past the parser.
        return f"sqlite+pysqlite:///file:{database}?mode=ro&uri=true"
    else:
        raise ValueError(f"unsupported database '{backend}' (PostgreSQL, MySQL or SQLite)")
    return url.render_as_string(hide_password=False)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return str(value)


def _encode(value: Any) -> str:
    return json.dumps(value, default=_jsonable, ensure_ascii=False, separators=(",", ":"))


class _Budget:
    def __init__(self, max_bytes: int) -> None:
        self.left = max_bytes


class DbTool:
    name = "db"

    def __init__(self, policy: Policy, audit: AuditLog) -> None:
        self.policy = policy.tools.db
        self.contracts = policy.contracts
        self.contracts_connection = policy.contracts_connection()
        self.audit = audit
        self._engines: dict[str, Engine] = {}
        self._lock = threading.Lock()

    # -- policy ---------------------------------------------------------------------------
    def connection(self, name: str | None) -> tuple[str, DatabaseConnection, str]:
        """The named connection, its settings and its sqlglot dialect."""
        try:
            conn_name, conn = self.policy.connection(name)
        except LookupError as exc:
            raise ToolRefused(str(exc)) from exc
        try:
            dsn = conn.resolve_dsn()
            return conn_name, conn, dialect_for(make_url(dsn).get_backend_name())
        except (ValueError, SQLAlchemyError) as exc:
            raise ToolFailed(f"connection '{conn_name}': {exc}") from exc

    def mapped_sql(self, sql: str, connection: str | None, contract: str | None) -> str:
        """``sql`` reading the policy's mappings of ``contract``'s tables, where it maps them
        on this connection (contract_mapping.py); else ``sql`` as it is."""
        conn_name, _, dialect = self.connection(connection)
        mappings = self.contracts.get(contract or "") if contract else None
        if not mappings or conn_name != self.contracts_connection:
            return sql
        try:
            return apply_mappings(sql, mappings, dialect)
        except SqlRefused as exc:
            raise ToolRefused(str(exc)) from exc

    def check_sql(self, sql: str, connection: str | None) -> str:
        """Why the policy refuses ``sql`` on ``connection`` (raises), or the connection's name."""
        conn_name, conn, dialect = self.connection(connection)
        try:
            check_select(
                sql,
                dialect,
                extra_denied=self.policy.deny_functions,
                allowed_tables=conn.allowed_tables,
            )
        except SqlRefused as exc:
            raise ToolRefused(str(exc)) from exc
        return conn_name

    # -- running --------------------------------------------------------------------------
    def _engine(self, name: str, conn: DatabaseConnection) -> Engine:
        with self._lock:
            engine = self._engines.get(name)
            if engine is None:
                url = sqlalchemy_url(conn.resolve_dsn())
                # A fresh session per call: session settings (read-only, timeouts) never leak
                # from one call into the next.
                engine = create_engine(url, poolclass=NullPool)
                if engine.dialect.name == "sqlite":
                    event.listen(engine, "connect", _sqlite_read_only)
                self._engines[name] = engine
            return engine

    def run(self, payload: dict[str, Any]) -> str:
        if payload.get("action") == "schema":
            from phi_agent.tools.db_schema import list_schema

            return list_schema(self, payload)
        connection = payload.get("connection")
        contract = payload.get("contract")
        queries = payload.get("queries")
        if connection is not None and not isinstance(connection, str):
            raise ToolRefused("payload.connection must be a name or null")
        if contract is not None and not isinstance(contract, str):
            raise ToolRefused("payload.contract must be a data contract's name or null")
        if not isinstance(queries, list) or not queries:
            raise ToolRefused("payload.queries must be a non-empty list")
        names: set[str] = set()
        for i, query in enumerate(queries):
            if not isinstance(query, dict) or not isinstance(query.get("sql"), str):
                raise ToolRefused(f"payload.queries[{i}] needs a name and an sql string")
            name = query.get("name")
            if not isinstance(name, str) or not _NAME.match(name) or name in names:
                raise ToolRefused(f"payload.queries[{i}].name must be a unique identifier")
            names.add(name)
            params = query.get("params", {})
            if not isinstance(params, dict):
                raise ToolRefused(f"query '{name}': params must be an object")
        # Every query is checked before any runs, mapped tables and all: a refused query
        # fails the whole call.
        runs: list[dict[str, Any]] = []
        for query in queries:
            try:
                sql = self.mapped_sql(query["sql"], connection, contract)
                conn_name = self.check_sql(sql, connection)
            except ToolRefused as exc:
                raise ToolRefused(f"query '{query['name']}' refused: {exc}") from exc
            runs.append({**query, "sql": sql})
        queries = runs
        conn_name, conn, _ = self.connection(connection)
        engine = self._engine(conn_name, conn)
        budget = _Budget(conn.max_result_bytes)
        parts: list[str] = ['{"results":{']
        for i, query in enumerate(queries):
            started = time.perf_counter()
            pieces, rows, truncated = self._run_one(engine, conn, query, budget)
            parts.append(("," if i else "") + _encode(query["name"]) + ":")
            parts.extend(pieces)
            self.audit.record(
                "query",
                tool="db",
                connection=conn_name,
                query=query["name"],
                contract=contract,
                sql=query["sql"][:4000],
                rows=rows,
                truncated=truncated,
                ms=round((time.perf_counter() - started) * 1000, 1),
            )
        parts.append("}}")
        # One join at the end: the result exists once as batches and once as the answer.
        return "".join(parts)

    def _run_one(
        self, engine: Engine, conn: DatabaseConnection, query: dict[str, Any], budget: _Budget
    ) -> tuple[list[str], int, bool]:
        name = query["name"]
        timeout_ms = int(conn.statement_timeout_seconds * 1000)
        backend = engine.dialect.name
        pieces: list[str] = []
        count = 0
        truncated = False
        try:
            with engine.connect() as db:
                if backend == "postgresql":
                    db.exec_driver_sql("SET TRANSACTION READ ONLY")
                    db.exec_driver_sql(f"SET LOCAL statement_timeout = {timeout_ms}")
                    db.exec_driver_sql("SET LOCAL lock_timeout = 2000")
                elif backend == "mysql":
                    if getattr(engine.dialect, "is_mariadb", False):
                        # MariaDB names it differently, in seconds, and it covers every
                        # statement (MySQL's max_execution_time covers SELECT only).
                        seconds = conn.statement_timeout_seconds
                        db.exec_driver_sql(f"SET SESSION max_statement_time = {seconds:.3f}")
                    else:
                        db.exec_driver_sql(f"SET SESSION max_execution_time = {timeout_ms}")
                    db.exec_driver_sql("START TRANSACTION READ ONLY")
                else:
                    _sqlite_deadline(db, time.monotonic() + conn.statement_timeout_seconds)
                result = db.execution_options(stream_results=True, yield_per=BATCH_ROWS).execute(
                    text(query["sql"]), query.get("params") or {}
                )
                columns = list(result.keys())
                for batch in result.partitions(BATCH_ROWS):
                    room = conn.max_rows - count
                    if room <= 0:
                        truncated = True
                        break
                    if len(batch) > room:
                        batch, truncated = batch[:room], True
                    # One encoder call per batch (the C encoder), not one per row.
                    whole = _encode([tuple(row) for row in batch])[1:-1]
                    size = len(whole) + 1
                    if size > budget.left:
                        # Keep the rows that fit, then stop: the result says it was cut.
                        encoded = [_encode(tuple(row)) for row in batch]
                        fits = 0
                        for item in encoded:
                            if len(item) + 1 > budget.left:
                                break
                            budget.left -= len(item) + 1
                            fits += 1
                        if fits:
                            pieces.append(",".join(encoded[:fits]))
                        count += fits
                        truncated = True
                        break
                    # One string per batch, not per row: a million rows stay a few hundred
                    # strings, and memory stays close to the size of the JSON itself.
                    pieces.append(whole)
                    budget.left -= size
                    count += len(batch)
                    if truncated:
                        break
                result.close()
                db.rollback()
        except DBAPIError as exc:
            message = _db_message(exc, conn)
            if re.search(r"read-?only|read only", message, re.IGNORECASE):
                raise ToolRefused(f"query '{name}' refused by the database: {message}") from exc
            raise ToolFailed(f"query '{name}' failed: {message}") from exc
        # Batches are joined by commas: interleave them instead of joining (no extra copy).
        out = ['{"columns":' + _encode(columns) + ',"rows":[']
        for n, piece in enumerate(pieces):
            out.extend((",", piece) if n else (piece,))
        out.append(f'],"row_count":{count},"truncated":{"true" if truncated else "false"}}}')
        return out, count, truncated

    def check(self) -> list[CheckLine]:
        lines = []
        for name in self.policy.connections:
            try:
                conn_name, conn, _ = self.connection(name)
                engine = self._engine(conn_name, conn)
                with engine.connect() as db:
                    db.execute(text("SELECT 1"))
                lines.append(CheckLine(f"db connection '{name}'", True, engine.dialect.name))
            except (ToolFailed, ToolRefused, SQLAlchemyError, ValueError) as exc:
                lines.append(CheckLine(f"db connection '{name}'", False, _short(exc)))
        return lines

    def close(self) -> None:
        for engine in self._engines.values():
            engine.dispose()


def _short(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    return str(orig or exc).strip().splitlines()[0][:300]


def _db_message(exc: DBAPIError, conn: DatabaseConnection) -> str:
    message = _short(exc)
    lowered = message.lower()
    if (
        "statement timeout" in lowered
        or "interrupted" in lowered
        or "max_execution_time" in lowered
    ):
        return f"ran past the statement timeout ({conn.statement_timeout_seconds:g} s)"
    return message


def _sqlite_read_only(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA query_only = ON")


def _sqlite_deadline(db: Any, deadline: float) -> None:
    # SQLite has no statement timeout: a progress handler aborts the statement once the
    # deadline passes (it is called every N virtual-machine steps).
    raw = db.connection.dbapi_connection
    raw.set_progress_handler(lambda: 1 if time.monotonic() > deadline else 0, 10_000)


@register("db")
def _factory(policy: Policy, audit: AuditLog) -> DbTool:
    return DbTool(policy, audit)

"""The warehouse data contract's queries, and their results.

The contract itself (tables, columns, types, empty values, timestamps) is declared once in
``phi_agent_config.data_contract.WAREHOUSE``; the queries select exactly its columns.

The SQL is deliberately plain (SELECT, WHERE with comparisons, OR, no functions, no casts), so
the same text runs on SQLite, PostgreSQL and MySQL views over a WMS. Parameters are SQLAlchemy
``:name`` style; the bounds are ISO dates, which compare correctly both against timestamp
columns and against ISO text columns (see :func:`day_parameters`).

The report needs the day and the 7 days before it (for the comparisons), so picks are read
from ``history_start``; orders due and shipments departed from ``trend_start`` (the late-order
rate and departures of the last 28 days, ``trends.py``), orders created only around the day.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

from phi_agent_config.data_contract import WAREHOUSE, ContractTable
from phi_orchestrator.workflows.daily_warehouse_report.analysis import HISTORY_DAYS
from phi_orchestrator.workflows.daily_warehouse_report.trends import TREND_DAYS

# Which rows of each contract table the report asks for (tables not named here: all rows).
_FILTERS: dict[str, str] = {
    "picks": "WHERE completed_at >= :history_start AND completed_at < :day_end",
    # Orders due in the 28 days before: the late-order rate's baseline and its trend.
    "orders": (
        "WHERE (due_at >= :trend_start AND due_at < :day_end) "
        "OR (created_at >= :day_start AND created_at < :day_end)"
    ),
    # Departures of the 28 days before: each dock's baseline, the trends, and the shipments
    # of the orders due then.
    "shipments": (
        "WHERE (loading_started_at >= :day_start AND loading_started_at < :day_end) "
        "OR (departed_at >= :trend_start AND departed_at < :day_end) "
        "OR (loading_started_at < :day_start AND departed_at IS NULL) "
        # Orders due may have left earlier: they are on time, not missing.
        "OR order_id IN (SELECT order_id FROM orders "
        "WHERE due_at >= :trend_start AND due_at < :day_end)"
    ),
}


def _query(table: ContractTable) -> str:
    # The column list is the declared contract's, so the two cannot differ.
    select = f"SELECT {', '.join(table.column_names())} FROM {table.name}"
    return f"{select} {_FILTERS[table.name]}" if table.name in _FILTERS else select


QUERIES: dict[str, str] = {table.name: _query(table) for table in WAREHOUSE.tables}

#: Names of the queries asking for the lowest and highest value of the timestamp columns the
#: filters compare. A value the report cannot read sorts outside any ISO bound
#: (``24/11/2026 10:00`` > ``2026-11-26``), so a filter leaves its row out without a word:
#: a column holding only such values gave a report of no picks, SUCCESS. Its lowest or
#: highest value is then one of them, and the analysis fails the task naming it.
TIME_RANGE_PREFIX = "time_range_"


def _filtered_time_columns(table: ContractTable) -> tuple[str, ...]:
    words = set(re.findall(r"\w+", _FILTERS.get(table.name, "").split(" IN (")[0]))
    return tuple(c.name for c in table.columns if c.type == "timestamp" and c.name in words)


def _range_query(table: ContractTable, columns: tuple[str, ...]) -> str:
    bounds = ", ".join(f"MIN({c}) AS min_{c}, MAX({c}) AS max_{c}" for c in columns)
    return f"SELECT {bounds} FROM {table.name}"


TIME_RANGE_QUERIES: dict[str, str] = {
    f"{TIME_RANGE_PREFIX}{table.name}": _range_query(table, columns)
    for table in WAREHOUSE.tables
    if (columns := _filtered_time_columns(table))
}

# Which parameters each query uses (drivers refuse unused named parameters in some setups).
_QUERY_PARAMS = {
    "zones": (),
    "pickers": (),
    "docks": (),
    "picks": ("history_start", "day_end"),
    "orders": ("trend_start", "day_start", "day_end"),
    "shipments": ("trend_start", "day_start", "day_end"),
}


def day_parameters(day: date) -> dict[str, str]:
    """The queries' bounds: dates without a time, one day wider on each side than the report
    needs. A bare date compares correctly with ISO text whether date and time are separated
    by `T` or by a space (``2026-11-24T00:00:00`` sorts after ``2026-11-24 10:00``, which
    dropped a whole day of orders stored in SQLite's form), and the extra day covers values
    stored with an offset, up to 14 hours away from the org's time. The analysis keeps only
    the rows of the exact day and history."""
    return {
        "history_start": (day - timedelta(days=HISTORY_DAYS + 1)).isoformat(),
        "trend_start": (day - timedelta(days=TREND_DAYS)).isoformat(),
        "day_start": (day - timedelta(days=1)).isoformat(),
        "day_end": (day + timedelta(days=2)).isoformat(),
    }


def db_payload(day: date, connection: str | None = None) -> dict[str, Any]:
    """The ``db`` tool call asking for everything the report of ``day`` needs."""
    params = day_parameters(day)
    return {
        "connection": connection,
        # The local policy may map the contract's tables onto the customer's own (its
        # ``contracts:`` section); the agent needs to know which contract these names are.
        "contract": WAREHOUSE.name,
        "queries": [
            *(
                {"name": name, "sql": sql, "params": {p: params[p] for p in _QUERY_PARAMS[name]}}
                for name, sql in QUERIES.items()
            ),
            *({"name": name, "sql": sql, "params": {}} for name, sql in TIME_RANGE_QUERIES.items()),
        ],
    }


def file_payload(day: date) -> dict[str, Any]:
    """The ``file`` tool call for CSV exports: one file per table and day where it has one
    (picks, orders and shipments of the day and the 7 days before it)."""
    files = [{"name": t, "path": f"{t}.csv"} for t in ("zones", "pickers", "docks")]
    for table in ("picks", "orders", "shipments"):
        for offset in range(HISTORY_DAYS, -1, -1):
            d = (day - timedelta(days=offset)).isoformat()
            files.append({"name": f"{table}_{d}", "path": f"{table}_{d}.csv"})
    return {"files": files}


_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


class ContractError(ValueError):
    """The local agent's answer does not have the contract's shape."""


def tables_from_result(result: Any) -> dict[str, list[dict[str, Any]]]:
    """Rows by table from a ``db`` or ``file`` result (``picks_<day>`` files are merged)."""
    if not isinstance(result, dict) or not isinstance(result.get("results"), dict):
        raise ContractError("the tool result has no 'results' object")
    tables: dict[str, list[dict[str, Any]]] = {}
    for name, answer in result["results"].items():
        if not isinstance(answer, dict):
            raise ContractError(f"result '{name}' is not an object")
        if name.startswith(TIME_RANGE_PREFIX):
            continue  # see time_ranges_from_result
        columns, rows = answer.get("columns"), answer.get("rows")
        if not isinstance(columns, list) or not isinstance(rows, list):
            raise ContractError(f"result '{name}' needs 'columns' and 'rows' lists")
        # A file per table and day (picks_2026-11-24) adds to its table.
        table, _, day = name.partition("_")
        table = table if _DAY.fullmatch(day) else name
        tables.setdefault(table, [])
        for row in rows:
            if not isinstance(row, list) or len(row) != len(columns):
                raise ContractError(f"result '{name}' has a row that does not match its columns")
            tables.setdefault(table, []).append(dict(zip(columns, row, strict=True)))
        if answer.get("truncated"):
            raise ContractError(
                f"result '{name}' was truncated by the local policy's row limit; raise the limit "
                "or the report would be computed on partial data"
            )
    missing = {"picks", "orders", "shipments"} - set(tables)
    if missing:
        raise ContractError(f"the tool result lacks: {', '.join(sorted(missing))}")
    return tables


def time_ranges_from_result(result: Any) -> dict[str, list[Any]]:
    """The lowest and highest value of each filtered timestamp column (``table.column``), from
    a ``db`` result that has them (file exports are read whole and have none)."""
    ranges: dict[str, list[Any]] = {}
    results = result.get("results") if isinstance(result, dict) else None
    for name, answer in (results or {}).items():
        if not name.startswith(TIME_RANGE_PREFIX) or not isinstance(answer, dict):
            continue
        table = name.removeprefix(TIME_RANGE_PREFIX)
        columns, rows = answer.get("columns") or [], answer.get("rows") or []
        if not rows or len(rows[0]) != len(columns):
            raise ContractError(f"result '{name}' needs one row of its columns")
        for column, value in zip(columns, rows[0], strict=True):
            bound, _, name_ = str(column).partition("_")
            if bound in ("min", "max") and name_:
                ranges.setdefault(f"{table}.{name_}", []).append(value)
    return ranges

"""``phi-agent contract check``: does the data behind each contract table read as the workflow
expects, before a report depends on it.

Each table of the contract is read as a workflow would read it (through the policy's mapping,
or the view or table of that name) with a small LIMIT, through the db tool and its read-only
guard, and its rows are held against the contract: every column present, values of the
declared type, no empty value where the contract allows none, timestamps in a form the report
reads (the contract's own ``TIMESTAMP_PATTERN``), values from the declared list, unique keys.
Empty values where the contract allows them are noted with what the workflow then does.

The result is also written to the state folder, so that a running ``phi-agent`` reports the
last check to the cloud on its heartbeat (worker.py).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlglot import exp

from phi_agent.registry import ToolError
from phi_agent.tools.db import DbTool
from phi_agent_config.contract_report import (
    MAX_CONTRACTS,
    MAX_PROBLEM_CHARS,
    MAX_PROBLEMS_PER_TABLE,
    MAX_TABLES,
    ContractCheckReport,
)
from phi_agent_config.data_contract import (
    TIMESTAMP_PATTERN,
    ContractColumn,
    ContractTable,
    DataContract,
)

DEFAULT_LIMIT = 200
RESULT_FILE = "contract-check.json"


@dataclass
class TableResult:
    table: str
    source: str  # "mapping", or "table" for a view or table of the contract table's name
    rows: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class ContractResult:
    contract: str
    connection: str
    checked_at: str
    limit: int
    tables: list[TableResult]

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.tables)

    def to_json(self) -> dict[str, Any]:
        """The result as the heartbeat carries it: bounded in lines and their length."""
        return {
            "contract": self.contract,
            "connection": self.connection,
            "checked_at": self.checked_at,
            "ok": self.ok,
            "tables": [
                {
                    "table": t.table,
                    "source": t.source,
                    "rows": t.rows,
                    "ok": t.ok,
                    "problems": [
                        p[:MAX_PROBLEM_CHARS] for p in t.problems[:MAX_PROBLEMS_PER_TABLE]
                    ],
                }
                for t in self.tables[:MAX_TABLES]
            ],
        }


def _empty(value: Any) -> bool:
    return value is None or value == ""


def _sample(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _type_problem(column: ContractColumn, value: Any) -> str | None:
    """Why ``value`` is not of the column's type, or None when it is."""
    if column.type == "timestamp":
        if isinstance(value, str) and TIMESTAMP_PATTERN.fullmatch(value.strip()):
            return None
        return "is not a timestamp the report reads (ISO 8601, e.g. 2026-11-24 09:15:00)"
    if column.type == "text":
        # Ids stored as integers read as their digits.
        return (
            None if isinstance(value, str | int) and not isinstance(value, bool) else "is not text"
        )
    if isinstance(value, bool):
        return f"is not {'an integer' if column.type == 'integer' else 'a number'}"
    if column.type == "integer":
        if isinstance(value, int) or (
            isinstance(value, str) and value.strip().lstrip("-").isdigit()
        ):
            return None
        if isinstance(value, float) and value.is_integer():
            return None
        return "is not an integer"
    if isinstance(value, int | float):
        return None
    try:
        float(value)
    except (TypeError, ValueError):
        return "is not a number"
    return None


def check_rows(table: ContractTable, columns: list[str], rows: list[list[Any]]) -> TableResult:
    """Hold ``rows`` (as read) against the contract table; the result says what is wrong."""
    result = TableResult(table=table.name, source="", rows=len(rows))
    index = {name: i for i, name in enumerate(columns)}
    lowered = {name.lower(): name for name in columns}
    for column in table.columns:
        where = f"{table.name}.{column.name}"
        if column.name not in index:
            near = lowered.get(column.name.lower())
            if near:
                hint = f"there is '{near}': the name must be exactly '{column.name}'"
            else:
                hint = f"the rows have: {', '.join(columns)}"
            result.problems.append(f"{where}: no such column ({hint})")
            continue
        values = [row[index[column.name]] for row in rows]
        empty = sum(1 for v in values if _empty(v))
        if empty and not column.nullable:
            result.problems.append(
                f"{where}: empty in {empty} of {len(values)} rows; the contract requires a value"
            )
        elif empty:
            consequence = f": {column.when_null}" if column.when_null else ""
            result.notes.append(f"{where}: empty in {empty} of {len(values)} rows{consequence}")
        wrong: list[tuple[Any, str]] = []
        for value in values:
            if _empty(value):
                continue
            why = _type_problem(column, value)
            if why is not None:
                wrong.append((value, why))
        if wrong:
            value, why = wrong[0]
            result.problems.append(
                f"{where}: {_sample(value)} {why} ({len(wrong)} of {len(values)} rows)"
            )
        elif column.values:
            unknown = [v for v in values if not _empty(v) and str(v) not in column.values]
            if unknown:
                result.problems.append(
                    f"{where}: {_sample(unknown[0])} is not one of "
                    f"{', '.join(column.values)} ({len(unknown)} of {len(values)} rows)"
                )
        if column.key and not wrong:
            seen: set[Any] = set()
            duplicates = []
            for value in values:
                if not _empty(value) and value in seen:
                    duplicates.append(value)
                seen.add(value)
            if duplicates:
                result.problems.append(
                    f"{where}: {_sample(duplicates[0])} is in more than one row; it must be unique"
                )
    if not rows:
        result.notes.append(f"{table.name}: no rows to check")
    return result


def check_contract(
    tool: DbTool, contract: DataContract, *, limit: int = DEFAULT_LIMIT
) -> ContractResult:
    """Read up to ``limit`` rows of each contract table the way a workflow would, and check
    them. The mapped tables run on the connection the mappings belong to."""
    connection = tool.contracts_connection
    mapped = tool.contracts.get(contract.name, {})
    tables: list[TableResult] = []
    for table in contract.tables:
        source = "mapping" if table.name in mapped else "table"
        sql = exp.select("*").from_(table.name).limit(limit).sql()
        payload = {
            "connection": connection,
            "contract": contract.name,
            "queries": [{"name": table.name, "sql": sql}],
        }
        try:
            answer = json.loads(tool.run(payload))["results"][table.name]
        except ToolError as exc:
            failed = TableResult(table=table.name, source=source)
            hint = (
                ""
                if source == "mapping"
                else f" (no mapping of '{table.name}' in the policy's contracts: section, so "
                "a view or table of that name is read)"
            )
            failed.problems.append(f"{table.name}: cannot be read: {exc}{hint}")
            tables.append(failed)
            continue
        result = check_rows(table, answer["columns"], answer["rows"])
        result.source = source
        tables.append(result)
    return ContractResult(
        contract=contract.name,
        connection=connection or "",
        checked_at=datetime.now(UTC).isoformat(timespec="seconds"),
        limit=limit,
        tables=tables,
    )


def save_result(state_dir: Path, results: list[ContractResult]) -> Path:
    """Write the check for the running agent to report (replacing the previous one)."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / RESULT_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps([r.to_json() for r in results]))
    os.replace(tmp, path)
    return path


def load_result(state_dir: Path) -> list[dict[str, Any]] | None:
    """The last saved check as the heartbeat sends it, or None when there is none or it does
    not hold a valid report (a file edited by hand is not sent for the cloud to refuse)."""
    try:
        data = json.loads((state_dir / RESULT_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, list) or not data:
        return None
    try:
        reports = [ContractCheckReport.model_validate(r) for r in data[:MAX_CONTRACTS]]
    except ValueError:
        return None
    return [r.model_dump(mode="json") for r in reports]


__all__ = [
    "ContractResult",
    "TableResult",
    "check_contract",
    "check_rows",
    "load_result",
    "save_result",
]

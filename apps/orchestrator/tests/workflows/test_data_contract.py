"""The warehouse report reads exactly what its declared data contract says
(``phi_agent_config.data_contract.WAREHOUSE``): its queries select the declared columns and
filter only on them, and the analysis reads no column the contract does not declare. A
column added to the workflow and not to the contract (or the reverse) fails here."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import httpx
import pytest

from phi_agent_config.data_contract import TIMESTAMP_PATTERN, WAREHOUSE
from phi_agent_config.warehouse_sample import generate
from phi_orchestrator.workflows.daily_warehouse_report import DailyWarehouseReport
from phi_orchestrator.workflows.daily_warehouse_report.analysis import (
    analyse,
    parse_time,
)
from phi_orchestrator.workflows.daily_warehouse_report.contract import (
    QUERIES,
    TIME_RANGE_QUERIES,
    db_payload,
    file_payload,
)
from phi_orchestrator.workflows.registry import workflows

DAY = date(2026, 11, 24)
_SQL_WORDS = {"select", "from", "where", "and", "or", "in", "is", "null", "not"}
_SELECT = re.compile(r"^SELECT (?P<columns>.+?) FROM (?P<table>\w+)(?: (?P<rest>.*))?$")


def _identifiers(sql: str) -> set[str]:
    without_params = re.sub(r":\w+", " ", sql)
    return {w for w in re.findall(r"[A-Za-z_]\w*", without_params) if w.lower() not in _SQL_WORDS}


def test_each_query_selects_its_tables_declared_columns_and_filters_only_on_them() -> None:
    assert list(QUERIES) == [t.name for t in WAREHOUSE.tables]
    for name, sql in QUERIES.items():
        declared = WAREHOUSE.table(name).column_names()
        match = _SELECT.match(sql)
        assert match, sql
        assert match["table"] == name
        assert tuple(c.strip() for c in match["columns"].split(",")) == declared
        # Sub-queries may read another contract table (shipments of orders due on the day).
        tables = {t.name for t in WAREHOUSE.tables}
        allowed = set(declared) | tables
        for other in _identifiers(match["rest"] or "") & tables:
            allowed |= set(WAREHOUSE.table(other).column_names())
        assert _identifiers(match["rest"] or "") <= allowed, (name, match["rest"])
    payload = db_payload(DAY)
    sqls = [q["sql"] for q in payload["queries"]]
    assert sqls == [*QUERIES.values(), *TIME_RANGE_QUERIES.values()]


def test_the_time_range_queries_cover_every_filtered_timestamp_column() -> None:
    # A timestamp column a filter compares, without its lowest and highest value asked for,
    # could hold only unreadable values and give an empty day, SUCCESS.
    for name, sql in QUERIES.items():
        table = WAREHOUSE.table(name)
        match = _SELECT.match(sql)
        assert match
        filtered = {
            c.name
            for c in table.columns
            if c.type == "timestamp" and c.name in _identifiers(match["rest"] or "")
        }
        ranged = set(re.findall(r"MIN\((\w+)\)", TIME_RANGE_QUERIES.get(f"time_range_{name}", "")))
        assert filtered <= ranged, name


def test_file_exports_are_the_contracts_tables() -> None:
    names = {f["name"].split("_")[0] for f in file_payload(DAY)["files"]}
    assert names == {t.name for t in WAREHOUSE.tables}


class _Recorded(dict[str, Any]):
    """A row that notes which columns the analysis reads."""

    def __init__(self, row: dict[str, Any], seen: set[str]) -> None:
        super().__init__(row)
        self.seen = seen

    def get(self, key: str, default: Any = None) -> Any:
        self.seen.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        self.seen.add(key)
        return super().__getitem__(key)


def test_the_analysis_reads_only_declared_columns() -> None:
    sample = generate(DAY, weeks=2, orders_per_day=40)
    seen: dict[str, set[str]] = {t.name: set() for t in WAREHOUSE.tables}
    tables = {
        t.name: [
            _Recorded({c: row.get(c) for c in t.column_names()}, seen[t.name])
            for row in sample.rows(t.name)
        ]
        for t in WAREHOUSE.tables
    }
    result = analyse(tables, DAY)
    assert result["totals"]["picks"] > 0
    for table in WAREHOUSE.tables:
        assert seen[table.name] <= set(table.column_names()), table.name
    # Every column declared as needed for a figure is read by it.
    for table in WAREHOUSE.tables:
        for column in table.columns:
            if column.when_null != "not used in any figure" and not column.key:
                assert column.name in seen[table.name] or column.name in _only_in_filters(
                    table.name
                ), (table.name, column.name)


def _only_in_filters(table: str) -> set[str]:
    # Columns that choose the rows read (in the query) rather than feed a figure.
    sql = QUERIES[table]
    match = _SELECT.match(sql)
    assert match
    return _identifiers(match["rest"] or "")


@pytest.mark.parametrize(
    "text",
    [
        *WAREHOUSE.timestamp_examples,
        "2026-11-24T09:15",
        "2026-11-24 09:15:00Z",
        "2026-11-24 09:15:00.123456+0100",
        "2026-11-24T09:15:00-05",
        "2026-11-24",
        "20261124T1015",
        "24/11/2026 10:00",
        "2026-11-24T09:15:00 +01:00",
        "2026-11-24 9:15",
    ],
)
def test_the_reports_timestamp_reader_accepts_exactly_the_declared_forms(text: str) -> None:
    try:
        parse_time(text)
        read = True
    except ValueError:
        read = False
    assert read is bool(TIMESTAMP_PATTERN.match(text)), text


def test_the_report_type_declares_the_warehouse_contract() -> None:
    assert DailyWarehouseReport.data_contract is WAREHOUSE
    declared = {t: w.data_contract for t, w in workflows().items()}
    # The report reads the warehouse contract; no other type declares one (yet).
    assert declared["DAILY_WAREHOUSE_REPORT"] is WAREHOUSE
    assert {t for t, c in declared.items() if c is not None} == {"DAILY_WAREHOUSE_REPORT"}


def test_get_workflows_serves_each_types_data_contract(api: httpx.Client) -> None:
    body = {w["type"]: w for w in api.get("/workflows").raise_for_status().json()}
    assert body["ASK"]["data_contract"] is None
    contract = body["DAILY_WAREHOUSE_REPORT"]["data_contract"]
    assert contract == WAREHOUSE.model_dump(mode="json")
    shipments = next(t for t in contract["tables"] if t["name"] == "shipments")
    loading = next(c for c in shipments["columns"] if c["name"] == "loading_started_at")
    assert loading["type"] == "timestamp" and loading["nullable"] is True
    assert "utilisation" in loading["when_null"]


def _not_available(value: Any, path: str = "") -> dict[str, list[dict[str, Any]]]:
    """Every figure the metrics mark not available, by path (``idle_docks.docks[].idle``)."""
    found: dict[str, list[dict[str, Any]]] = {}
    if isinstance(value, dict):
        for key, reason in value.get("not_available", {}).items():
            found.setdefault(f"{path}{key}", []).append(reason)
        for key, inner in value.items():
            if key != "not_available":
                for p, reasons in _not_available(inner, f"{path}{key}.").items():
                    found.setdefault(p, []).extend(reasons)
    elif isinstance(value, list):
        for item in value:
            for p, reasons in _not_available(item, f"{path[:-1]}[].").items():
                found.setdefault(p, []).extend(reasons)
    return found


@pytest.fixture(scope="module")
def small_warehouse() -> dict[str, list[dict[str, Any]]]:
    sample = generate(DAY, weeks=2, orders_per_day=40)
    return {t.name: list(sample.rows(t.name)) for t in WAREHOUSE.tables}


_NULLABLE = [(t.name, c) for t in WAREHOUSE.tables for c in t.columns if c.nullable]


@pytest.mark.parametrize(
    ("table", "column"), _NULLABLE, ids=[f"{t}.{c.name}" for t, c in _NULLABLE]
)
def test_an_emptied_column_leaves_exactly_its_declared_figures_not_available(
    small_warehouse: dict[str, list[dict[str, Any]]], table: str, column: Any
) -> None:
    """The contract's ``figures_when_empty`` and the analysis agree: emptying a column in
    every row makes exactly those figures null, each with the column named beside it (and
    the report says so); a column declared unused changes no figure at all."""
    from phi_orchestrator.workflows.daily_warehouse_report.report import report_markdown

    full = analyse(small_warehouse, DAY)
    emptied = {
        name: [{**r, column.name: None} if name == table else r for r in rows]
        for name, rows in small_warehouse.items()
    }
    metrics = analyse(emptied, DAY)
    qualified = f"{table}.{column.name}"
    named = {
        path
        for path, reasons in _not_available(metrics).items()
        if any(r.get("column") == qualified for r in reasons)
    }
    assert named == set(column.figures_when_empty), qualified
    assert not _not_available(full), "the full sample has every figure"
    for path in named:
        assert _values(metrics, path) and all(v is None for v in _values(metrics, path)), path
    if column.when_null == "not used in any figure":
        assert metrics == full
    if named:
        text = report_markdown(metrics, "", "builtin", "bot", [])
        assert f"not available ({qualified} is empty)" in text.lower()


def _values(metrics: Any, path: str) -> list[Any]:
    """The values at ``path`` of the rows that carry a not_available entry for it."""
    *parents, key = path.split(".")
    nodes = [metrics]
    for part in parents:
        if part.endswith("[]"):
            nodes = [item for n in nodes for item in n[part[:-2]]]
        else:
            nodes = [n[part] for n in nodes]
    return [n[key] for n in nodes if key in n.get("not_available", {})]

"""The data each workflow reads from a customer's systems, declared once.

A data contract names the tables a workflow's queries read, their columns with types, which
columns may be NULL and what the report then does, the timestamp forms accepted and the units.
The orchestrator serves it with ``GET /workflows``, builds the workflow's queries from it, and
``docs/local-agent-protocol.md`` shows it as generated tables (:func:`render_markdown`), so what
a customer is asked to provide cannot drift from what the workflow reads.

It lives in this package because both sides need it: the orchestrator (queries, the API, the
docs) and the local agent (checking a customer's mapping against it).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ColumnType = Literal["text", "integer", "number", "timestamp"]

_TYPE_WORDS: dict[str, str] = {
    "text": "text",
    "integer": "integer",
    "number": "number (integer or decimal)",
    "timestamp": "timestamp",
}


class ContractColumn(BaseModel):
    """One column a workflow reads."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    type: ColumnType
    nullable: bool = Field(description="Whether rows may leave it empty (NULL or '')")
    key: bool = Field(default=False, description="Unique per row of its table")
    unit: str | None = None
    values: tuple[str, ...] | None = Field(
        default=None, description="The values it takes, where the workflow tells them apart"
    )
    meaning: str
    when_null: str | None = Field(
        default=None, description="What the workflow does with an empty value (nullable only)"
    )
    figures_when_empty: tuple[str, ...] = Field(
        default=(),
        description="The figures (paths in the report's metrics) that are not available, null "
        "with the reason beside them, when every row they need leaves this column empty",
    )


class ContractTable(BaseModel):
    """One table (or view, or mapped query) a workflow reads."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    meaning: str
    rows_read: str = Field(
        description="Which of its rows the workflow uses (its query may ask a little wider)"
    )
    export_file: str = Field(description="The file name when the data comes as CSV exports")
    columns: tuple[ContractColumn, ...]

    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


class DataContract(BaseModel):
    """Everything a workflow reads from the customer's data."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    timestamps: str = Field(description="The timestamp forms accepted and how they are read")
    timestamp_examples: tuple[str, ...]
    tables: tuple[ContractTable, ...]

    def table(self, name: str) -> ContractTable:
        for table in self.tables:
            if table.name == name:
                return table
        raise KeyError(name)


TIMESTAMPS = (
    "a timestamp column, or ISO 8601 text: `YYYY-MM-DD` and `HH:MM` separated by `T` or a "
    "space, optional seconds with or without a fraction, optional UTC offset (`Z`, `+01:00`, "
    "`+01`). A value without an offset is in the org's time zone (the warehouse's local time); "
    "one with an offset is converted to it. The report's day runs from its midnight to the "
    "next. A value in any other form fails the task, naming the table, the column and the value."
)
#: The text forms :data:`TIMESTAMPS` accepts (the report's reader is checked against it).
TIMESTAMP_PATTERN = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?$"
)

_NOT_IN_FIGURES = "not used in any figure"


def _key(name: str) -> ContractColumn:
    return ContractColumn(name=name, type="text", nullable=False, key=True, meaning="id")


def _unused(name: str, type_: ColumnType, meaning: str) -> ContractColumn:
    """A column the queries select but no figure reads (it may be empty)."""
    return ContractColumn(
        name=name, type=type_, nullable=True, meaning=meaning, when_null=_NOT_IN_FIGURES
    )


_SHOWN_NAME = ContractColumn(
    name="name",
    type="text",
    nullable=True,
    meaning="shown in the report",
    when_null="the id is shown instead",
)

# Figures that need a column the customer may leave empty (see ``figures_when_empty``).
_LATENESS_FIGURES = (
    "late_orders.late",
    "late_orders.not_shipped",
    "late_orders.late_pct",
    "late_orders.baseline_late",
    "late_orders.baseline_late_pct",
    "late_orders.spike",
    "late_orders.orders",
)
_LATE_ORDER_FIGURES = (
    "late_orders.orders_due",
    "late_orders.baseline_orders_due",
    *_LATENESS_FIGURES,
)
_DOCK_TIME_FIGURES = (
    "idle_docks.docks[].busy_minutes",
    "idle_docks.docks[].utilisation_pct",
    "idle_docks.docks[].longest_idle_minutes",
    "idle_docks.docks[].idle",
)

WAREHOUSE = DataContract(
    name="warehouse",
    timestamps=TIMESTAMPS,
    timestamp_examples=(
        "2026-11-24T09:15:00",
        "2026-11-24 09:15:00",
        "2026-11-24T09:15:00.250",
        "2026-11-24T09:15:00+01:00",
    ),
    tables=(
        ContractTable(
            name="zones",
            meaning="The warehouse's picking zones",
            rows_read="all",
            export_file="zones.csv",
            columns=(
                _key("zone_id"),
                _SHOWN_NAME,
            ),
        ),
        ContractTable(
            name="pickers",
            meaning="The people who pick",
            rows_read="all",
            export_file="pickers.csv",
            columns=(
                _key("picker_id"),
                _SHOWN_NAME,
                _unused("home_zone_id", "text", "the zone the picker usually works in"),
            ),
        ),
        ContractTable(
            name="docks",
            meaning="The loading docks",
            rows_read="all",
            export_file="docks.csv",
            columns=(
                _key("dock_id"),
                _SHOWN_NAME,
            ),
        ),
        ContractTable(
            name="picks",
            meaning="One row per pick of an order line",
            rows_read="completed from the 7 days before the day to the day's end (as exports: "
            "one file for each of these days)",
            export_file="picks_YYYY-MM-DD.csv",
            columns=(
                _key("pick_id"),
                _unused("order_id", "text", "the order picked for"),
                _unused("line_no", "integer", "the order line picked"),
                ContractColumn(
                    name="picker_id",
                    type="text",
                    nullable=True,
                    meaning="who picked (pickers.picker_id)",
                    when_null="the pick counts for a picker named 'unknown', who is not "
                    "counted among the active pickers nor rated as an outlier",
                    figures_when_empty=("totals.active_pickers", "outliers.pickers"),
                ),
                ContractColumn(
                    name="zone_id",
                    type="text",
                    nullable=True,
                    meaning="where it was picked (zones.zone_id)",
                    when_null="the pick counts for a zone named 'unknown', which is never "
                    "rated as a slow zone",
                    figures_when_empty=("by_zone[].slow", "outliers.slow_zones"),
                ),
                _unused("sku", "text", "the article picked"),
                ContractColumn(
                    name="quantity",
                    type="number",
                    nullable=True,
                    unit="pieces of the SKU",
                    meaning="how much was picked",
                    when_null="the pick counts in picks but not in units (units are summed "
                    "over the picks that have a quantity, and the report says how many lack one)",
                    figures_when_empty=("totals.units", "by_zone[].units", "by_picker[].units"),
                ),
                ContractColumn(
                    name="started_at",
                    type="timestamp",
                    nullable=True,
                    meaning="when the pick began",
                    when_null=(
                        "the pick has no duration: it counts in throughput but not in pick "
                        "times (zone and picker medians, slow zones, picker outliers, slow picks)"
                    ),
                    figures_when_empty=(
                        "by_zone[].median_pick_seconds",
                        "by_zone[].median_pick_seconds_7d",
                        "by_zone[].pick_time_ratio_vs_7d",
                        "by_zone[].slow",
                        "by_picker[].active_minutes",
                        "by_picker[].picks_per_hour",
                        "by_picker[].median_pick_seconds",
                        "by_picker[].relative_pick_time",
                        "by_picker[].relative_pick_time_7d",
                        "outliers.pickers",
                        "outliers.slow_zones",
                        "outliers.slow_picks.threshold_minutes",
                        "outliers.slow_picks.count",
                    ),
                ),
                ContractColumn(
                    name="completed_at",
                    type="timestamp",
                    nullable=False,
                    meaning="when the pick was done; it counts in the hour, day and zone of this",
                ),
            ),
        ),
        ContractTable(
            name="orders",
            meaning="Customer orders",
            rows_read="due on the day or the 7 days before it (the late-order rate's baseline), "
            "or created on the day (as exports: one file for each of these days)",
            export_file="orders_YYYY-MM-DD.csv",
            columns=(
                _key("order_id"),
                ContractColumn(
                    name="customer",
                    type="text",
                    nullable=True,
                    meaning="shown in the list of late orders",
                    when_null="shown empty",
                ),
                _unused("created_at", "timestamp", "when the order came in"),
                ContractColumn(
                    name="due_at",
                    type="timestamp",
                    nullable=True,
                    meaning="when the order must have left; orders due on the day are checked "
                    "for lateness",
                    when_null="the order is not counted among the day's due or late orders "
                    "(the report says how many orders of the day lack a due time)",
                    figures_when_empty=_LATE_ORDER_FIGURES,
                ),
                ContractColumn(
                    name="status",
                    type="text",
                    nullable=True,
                    values=("OPEN", "PICKED", "SHIPPED", "CANCELLED"),
                    meaning="CANCELLED orders are never due or late; the others are alike",
                    when_null="the order counts as not cancelled",
                ),
            ),
        ),
        ContractTable(
            name="shipments",
            meaning="Loadings at the docks, one per shipment of an order",
            rows_read=(
                "loading on the day, departing on the day or the 7 days before it (each "
                "dock's baseline), loading before it and not yet departed, and those of the "
                "orders read (as exports: one file for each of these days)"
            ),
            export_file="shipments_YYYY-MM-DD.csv",
            columns=(
                _key("shipment_id"),
                ContractColumn(
                    name="order_id",
                    type="text",
                    nullable=True,
                    meaning="the order shipped (orders.order_id); its first departure decides "
                    "whether it was late",
                    when_null="the loading counts for its dock but ships no order",
                    figures_when_empty=_LATENESS_FIGURES,
                ),
                ContractColumn(
                    name="dock_id",
                    type="text",
                    nullable=False,
                    meaning="where it was loaded (docks.dock_id)",
                ),
                _unused("carrier", "text", "the carrier"),
                ContractColumn(
                    name="loading_started_at",
                    type="timestamp",
                    nullable=True,
                    meaning="when loading began; the dock is busy from then to departure",
                    when_null=(
                        "the loading's busy time is unknown: its dock's busy minutes and "
                        "utilisation count only the loadings with a start (the report says how "
                        "many lack one) and its idle gaps are not available"
                    ),
                    figures_when_empty=_DOCK_TIME_FIGURES,
                ),
                ContractColumn(
                    name="departed_at",
                    type="timestamp",
                    nullable=True,
                    meaning="when the shipment left the dock",
                    when_null=(
                        "not departed: its order is late or not shipped if due on the day, "
                        "and the dock counts as busy until the operating window closes"
                    ),
                    figures_when_empty=(
                        *_LATENESS_FIGURES,
                        *_DOCK_TIME_FIGURES,
                        "idle_docks.docks[].departures",
                        "idle_docks.docks[].departures_mean_7d",
                        "idle_docks.docks[].departures_vs_mean_7d_pct",
                    ),
                ),
            ),
        ),
    ),
)

#: Every data contract by its name (a workflow type names the one it reads).
CONTRACTS: dict[str, DataContract] = {WAREHOUSE.name: WAREHOUSE}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(contract: DataContract) -> str:
    """The contract as Markdown: the timestamp rule, then one table per contract table."""
    lines = [
        f"Timestamps: {contract.timestamps} Examples: "
        + ", ".join(f"`{e}`" for e in contract.timestamp_examples)
        + ".",
        "",
    ]
    for table in contract.tables:
        lines += [
            f"### `{table.name}`",
            f"{table.meaning}. Rows read: {table.rows_read}. Export file: `{table.export_file}`.",
            "",
            "| column | type | may be empty | meaning | when empty |",
            "|---|---|---|---|---|",
        ]
        for column in table.columns:
            kind = _TYPE_WORDS[column.type]
            if column.key:
                kind += ", key"
            meaning = column.meaning
            if column.unit:
                meaning += f" (unit: {column.unit})"
            if column.values:
                meaning += "; values: " + ", ".join(f"`{v}`" for v in column.values)
            lines.append(
                f"| `{column.name}` | {kind} | {'yes' if column.nullable else 'no'} | "
                f"{_cell(meaning)} | {_cell(column.when_null or '—')} |"
            )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _markers(contract: DataContract) -> tuple[str, str]:
    return (
        f"<!-- data contract {contract.name}: generated, do not edit -->",
        f"<!-- end of data contract {contract.name} -->",
    )


def with_rendered_contract(document: str, contract: DataContract) -> str:
    """``document`` with the text between the contract's markers replaced by its rendering."""
    start, end = _markers(contract)
    before, found, rest = document.partition(start)
    if not found or end not in rest:
        raise ValueError(f"the document has no '{start}' ... '{end}' section")
    _, _, after = rest.partition(end)
    return f"{before}{start}\n{render_markdown(contract)}{end}{after}"


if __name__ == "__main__":
    # python -m phi_agent_config.data_contract docs/local-agent-protocol.md: rewrite the
    # generated sections of that document.
    import sys
    from pathlib import Path

    for name in sys.argv[1:]:
        path = Path(name)
        text = path.read_text(encoding="utf-8")
        for contract in CONTRACTS.values():
            text = with_rendered_contract(text, contract)
        path.write_text(text, encoding="utf-8")

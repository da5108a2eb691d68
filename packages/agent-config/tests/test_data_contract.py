"""The declared data contracts: the docs show them as they are declared, and the sample
warehouse (in-app sample and ``phi-agent demo-data``) keeps to the warehouse contract."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from phi_agent_config.data_contract import (
    CONTRACTS,
    TIMESTAMP_PATTERN,
    WAREHOUSE,
    render_markdown,
    with_rendered_contract,
)
from phi_agent_config.warehouse_sample import COLUMNS, create_table_sql, generate

DOC = Path(__file__).resolve().parents[3] / "docs" / "local-agent-protocol.md"


def test_the_protocol_doc_shows_every_contract_as_declared() -> None:
    text = DOC.read_text(encoding="utf-8")
    for contract in CONTRACTS.values():
        assert with_rendered_contract(text, contract) == text, (
            f"the {contract.name} contract section of {DOC.name} is stale: run "
            f".venv/bin/python -m phi_agent_config.data_contract docs/local-agent-protocol.md"
        )
        assert render_markdown(contract) in text


def test_a_document_without_the_section_is_refused() -> None:
    with pytest.raises(ValueError, match="no '<!-- data contract warehouse"):
        with_rendered_contract("# nothing here\n", WAREHOUSE)


def test_the_sample_warehouse_has_the_contracts_tables_columns_and_types() -> None:
    sample = generate(date(2026, 11, 24), weeks=1, orders_per_day=40)
    for table in WAREHOUSE.tables:
        assert COLUMNS[table.name] == table.column_names(), table.name
        ddl = create_table_sql(table.name)
        for column in table.columns:
            numeric = column.type in ("integer", "number")
            assert (f"{column.name} INTEGER" in ddl) == numeric, (table.name, column.name)
        rows = list(sample.rows(table.name))
        assert rows, table.name
        for column in table.columns:
            values = [row[column.name] for row in rows]
            if not column.nullable:
                assert all(v not in (None, "") for v in values), (table.name, column.name)
            if column.key:
                assert len(set(values)) == len(values), (table.name, column.name)
            present = [v for v in values if v not in (None, "")]
            if column.type == "timestamp":
                assert all(TIMESTAMP_PATTERN.match(v) for v in present), (table.name, column.name)
            elif column.type in ("integer", "number"):
                assert all(isinstance(v, int | float) for v in present), (table.name, column.name)
            else:
                assert all(isinstance(v, str) for v in present), (table.name, column.name)
            if column.values:
                assert set(present) <= set(column.values), (table.name, column.name)


@pytest.mark.parametrize(
    ("text", "accepted"),
    [
        *((example, True) for example in WAREHOUSE.timestamp_examples),
        ("2026-11-24T09:15:00Z", True),
        ("2026-11-24 09:15:00.123456-05:00", True),
        ("24.11.2026 09:15", False),
        ("2026-11-24T09:15", True),
        ("2026-11-24 09:15:00+01", True),
        ("2026-11-24", False),
        ("20261124T1015", False),
        ("2026/11/24 09:15:00", False),
    ],
)
def test_the_timestamp_forms(text: str, accepted: bool) -> None:
    assert bool(TIMESTAMP_PATTERN.match(text)) is accepted

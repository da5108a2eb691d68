"""``phi-agent demo-data DIR``: the sample warehouse as a customer would have it.

Writes ``warehouse.sqlite`` (the data contract's tables), ``exports/`` (CSV per table and day,
plus XLSX copies of the last day's picks, orders and shipments) and ``policy.yaml`` allowing
exactly those: the database read-only and the exports folder.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import yaml

from phi_agent_config.warehouse_sample import (
    COLUMNS,
    WarehouseSample,
    generate,
    write_csv,
    write_sqlite,
)


def write_xlsx(sample: WarehouseSample, directory: Path) -> list[Path]:
    from openpyxl import Workbook

    day = sample.end_date.isoformat()
    written = []
    for table, column in (("picks", 8), ("orders", 2), ("shipments", 5)):
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet(table)
        sheet.append(list(COLUMNS[table]))
        for row in sample.tables[table]:
            if str(row[column]).startswith(day):
                sheet.append(list(row))
        path = directory / f"{table}_{day}.xlsx"
        workbook.save(path)
        written.append(path)
    return written


def demo_policy() -> dict[str, object]:
    return {
        "policy_version": 1,
        "name": "demo-warehouse",
        "state_dir": ".phi-agent",
        "max_parallel_calls": 2,
        "tools": {
            "db": {
                "enabled": True,
                "default_connection": "warehouse",
                "connections": {
                    "warehouse": {
                        "dsn": "sqlite:///warehouse.sqlite",
                        "statement_timeout_seconds": 30,
                        "max_rows": 100000,
                        "max_result_bytes": 8000000,
                    }
                },
            },
            "file": {
                "enabled": True,
                "roots": ["exports"],
                "extensions": ["csv", "xlsx", "json", "txt"],
                "max_bytes": 50000000,
            },
        },
    }


def write_demo_data(
    directory: Path, end_date: date, *, weeks: int = 4, seed: int = 20261125
) -> dict[str, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    sample = generate(end_date, weeks=weeks, seed=seed)
    database = write_sqlite(sample, directory / "warehouse.sqlite")
    exports = directory / "exports"
    write_csv(sample, exports)
    write_xlsx(sample, exports)
    policy = directory / "policy.yaml"
    policy.write_text(
        "# Local policy of the demo warehouse: what phi-agent may read. Yours to edit; the\n"
        "# cloud cannot change it. See docs/local-agent.md.\n"
        + yaml.safe_dump(demo_policy(), sort_keys=False)
    )
    return {"database": database, "exports": exports, "policy": policy}

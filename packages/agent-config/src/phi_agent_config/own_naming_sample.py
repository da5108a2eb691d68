"""The sample warehouse as a WMS with its own naming, and the policy mapping that reads it.

Most customers' warehouse systems do not call their tables ``picks`` or ``shipments``. This
writes the rows of :mod:`phi_agent_config.warehouse_sample` into a SQLite database laid out the
way such a system might be (``pick_log``, ``customer_order``, ``dispatch``; badge numbers,
gates, lower-case order states; timestamps in SQLite's own ``YYYY-MM-DD HH:MM:SS`` form) and
gives :data:`MAPPING`, the ``contracts: warehouse:`` section of a local policy that maps the
warehouse data contract onto it without a view. ``docs/local-agent.md`` shows the same mapping
(a test keeps the two equal), and the end-to-end tests run the report over it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from phi_agent_config.warehouse_sample import WarehouseSample

#: The customer's tables: name, then (column, SQLite type) in the order rows are written.
TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "area": (("code", "TEXT PRIMARY KEY"), ("label", "TEXT")),
    "staff": (("badge", "TEXT PRIMARY KEY"), ("full_name", "TEXT"), ("home_area", "TEXT")),
    "gate": (("gate_no", "TEXT PRIMARY KEY"), ("label", "TEXT")),
    "pick_log": (
        ("id", "INTEGER PRIMARY KEY"),
        ("order_no", "TEXT"),
        ("line", "INTEGER"),
        ("badge", "TEXT"),
        ("area", "TEXT"),
        ("article", "TEXT"),
        ("qty", "INTEGER"),
        ("t_start", "TEXT"),
        ("t_done", "TEXT"),
    ),
    "customer_order": (
        ("order_no", "TEXT PRIMARY KEY"),
        ("client", "TEXT"),
        ("received", "TEXT"),
        ("promised", "TEXT"),
        ("state", "TEXT"),
    ),
    "dispatch": (
        ("dispatch_no", "TEXT PRIMARY KEY"),
        ("order_no", "TEXT"),
        ("gate_no", "TEXT"),
        ("haulier", "TEXT"),
        ("load_start", "TEXT"),
        ("left_at", "TEXT"),
    ),
}

#: ``contracts: warehouse:`` of the local policy for this database: one SELECT per contract
#: table over the customer's own tables.
MAPPING: dict[str, str] = {
    "zones": "SELECT code AS zone_id, label AS name FROM area",
    "pickers": "SELECT badge AS picker_id, full_name AS name, home_area AS home_zone_id FROM staff",
    "docks": "SELECT gate_no AS dock_id, label AS name FROM gate",
    "picks": "SELECT CAST(id AS TEXT) AS pick_id, order_no AS order_id, line AS line_no, "
    "badge AS picker_id, area AS zone_id, article AS sku, qty AS quantity, "
    "t_start AS started_at, t_done AS completed_at FROM pick_log",
    "orders": "SELECT order_no AS order_id, client AS customer, received AS created_at, "
    "promised AS due_at, UPPER(state) AS status FROM customer_order",
    "shipments": "SELECT dispatch_no AS shipment_id, order_no AS order_id, gate_no AS dock_id, "
    "haulier AS carrier, load_start AS loading_started_at, left_at AS departed_at "
    "FROM dispatch",
}


def _stamp(value: str | None) -> str | None:
    # The sample writes ISO 8601 with a T; this WMS stores SQLite's form, with a space.
    return value.replace("T", " ") if value else value


def write_own_naming_sqlite(sample: WarehouseSample, path: str | Path) -> Path:
    """Write ``sample`` as the own-naming WMS at ``path`` (replacing an existing file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    rows: dict[str, list[tuple[object, ...]]] = {
        "area": [(z, name) for z, name in sample.tables["zones"]],
        "staff": list(sample.tables["pickers"]),
        "gate": list(sample.tables["docks"]),
        "pick_log": [
            (n, order, line, badge, area, sku, qty, _stamp(start), _stamp(done))
            for n, (_, order, line, badge, area, sku, qty, start, done) in enumerate(
                sample.tables["picks"], start=1
            )
        ],
        "customer_order": [
            (order, client, _stamp(created), _stamp(due), status.lower())
            for order, client, created, due, status in sample.tables["orders"]
        ],
        "dispatch": [
            (ship, order, dock, carrier, _stamp(loading), _stamp(departed))
            for ship, order, dock, carrier, loading, departed in sample.tables["shipments"]
        ],
    }
    con = sqlite3.connect(path)
    try:
        with con:
            for table, columns in TABLES.items():
                con.execute(f"CREATE TABLE {table} ({', '.join(f'{c} {t}' for c, t in columns)})")
                marks = ", ".join("?" for _ in columns)
                con.executemany(f"INSERT INTO {table} VALUES ({marks})", rows[table])
            con.execute("CREATE INDEX pick_log_done ON pick_log (t_done)")
            con.execute("CREATE INDEX customer_order_promised ON customer_order (promised)")
    finally:
        con.close()
    return path


__all__ = ["MAPPING", "TABLES", "write_own_naming_sqlite"]

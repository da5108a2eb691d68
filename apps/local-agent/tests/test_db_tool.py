"""The db tool on SQLite and on the embedded PostgreSQL: hostile SQL refused, database
unchanged; read-only enforced a second time by the database; limits; streaming results."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from agent_helpers import REPORT_DAY, audit, db_policy
from hostile_sql import HOSTILE_SQL
from sqlalchemy import create_engine, text

from phi_agent.registry import ToolFailed, ToolRefused
from phi_agent.tools.db import DbTool
from phi_agent_config.warehouse_sample import PLANTED, create_table_sql, generate, write_sqlite

SAMPLE = generate(date(2026, 11, 24), weeks=1, orders_per_day=40)
EVIL_FILES = [Path("/tmp/phi-evil"), Path("/tmp/phi-evil.db")]


def _query(tool: DbTool, sql: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    answer = json.loads(tool.run({"queries": [{"name": "q", "sql": sql, "params": params or {}}]}))
    return dict(answer["results"]["q"])


# -- SQLite ---------------------------------------------------------------------------------
@pytest.fixture
def sqlite_db(tmp_path: Path) -> Path:
    return write_sqlite(SAMPLE, tmp_path / "wms.sqlite")


def _sqlite_tool(tmp_path: Path, db: Path, **limits: Any) -> DbTool:
    policy = db_policy(tmp_path, {"dsn": f"sqlite:///{db}", **limits})
    return DbTool(policy, audit(policy))


def _sqlite_snapshot(db: Path) -> str:
    con = sqlite3.connect(db)
    try:
        return hashlib.sha256("\n".join(con.iterdump()).encode()).hexdigest()
    finally:
        con.close()


def _refuse_all(tool: DbTool) -> list[str]:
    passed = []
    for sql in HOSTILE_SQL:
        try:
            tool.run({"queries": [{"name": "q", "sql": sql}]})
            passed.append(sql)
        except ToolRefused as exc:
            assert "query 'q' refused" in str(exc)
    return passed


def test_hostile_sql_is_refused_on_sqlite_and_the_database_is_unchanged(
    tmp_path: Path, sqlite_db: Path
) -> None:
    assert len(HOSTILE_SQL) >= 40
    before = _sqlite_snapshot(sqlite_db)
    tool = _sqlite_tool(tmp_path, sqlite_db)
    assert _refuse_all(tool) == []
    tool.close()
    assert _sqlite_snapshot(sqlite_db) == before
    assert not any(p.exists() for p in EVIL_FILES)


def test_sqlite_refuses_a_write_that_got_past_the_parser(tmp_path: Path, sqlite_db: Path) -> None:
    before = _sqlite_snapshot(sqlite_db)
    tool = _sqlite_tool(tmp_path, sqlite_db)
    engine = tool._engine("warehouse", tool.policy.connections["warehouse"])
    conn = tool.policy.connections["warehouse"]
    from phi_agent.tools.db import _Budget

    for sql in ("DELETE FROM picks", "CREATE TABLE evil (x int)"):
        with pytest.raises(ToolRefused, match="refused by the database"):
            tool._run_one(engine, conn, {"name": "q", "sql": sql}, _Budget(10_000))
    assert _sqlite_snapshot(sqlite_db) == before


def test_sqlite_report_query_reads_the_planted_idle_dock(tmp_path: Path, sqlite_db: Path) -> None:
    tool = _sqlite_tool(tmp_path, sqlite_db)
    result = _query(
        tool,
        "SELECT dock_id, count(*) AS n FROM shipments WHERE loading_started_at >= :day_start "
        "AND loading_started_at < :day_end GROUP BY dock_id ORDER BY dock_id",
        REPORT_DAY,
    )
    assert result["columns"] == ["dock_id", "n"]
    docks = [row[0] for row in result["rows"]]
    assert PLANTED["idle_dock"]["dock_id"] not in docks and len(docks) == 5
    assert result["truncated"] is False and result["row_count"] == 5
    lines = [json.loads(line) for line in tool.audit.path.read_text().splitlines()]
    assert lines[-1]["event"] == "query" and lines[-1]["rows"] == 5


def test_row_and_size_limits_cut_the_result_and_say_so(tmp_path: Path, sqlite_db: Path) -> None:
    rows = _query(_sqlite_tool(tmp_path, sqlite_db, max_rows=10), "SELECT * FROM picks")
    assert rows["row_count"] == 10 and len(rows["rows"]) == 10 and rows["truncated"] is True
    sized = _query(_sqlite_tool(tmp_path, sqlite_db, max_result_bytes=5_000), "SELECT * FROM picks")
    assert sized["truncated"] is True and 0 < sized["row_count"] < 60
    assert sum(len(json.dumps(r, separators=(",", ":"))) for r in sized["rows"]) <= 5_000
    exact = _query(_sqlite_tool(tmp_path, sqlite_db, max_rows=5), "SELECT * FROM zones")
    assert exact["row_count"] == 5 and exact["truncated"] is False


def test_sqlite_statement_timeout_stops_a_runaway_query(tmp_path: Path, sqlite_db: Path) -> None:
    tool = _sqlite_tool(tmp_path, sqlite_db, statement_timeout_seconds=0.3)
    with pytest.raises(ToolFailed, match="statement timeout"):
        _query(
            tool,
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
            "SELECT count(*) FROM c",
        )


def test_refused_query_fails_the_whole_call_naming_it(tmp_path: Path, sqlite_db: Path) -> None:
    tool = _sqlite_tool(tmp_path, sqlite_db)
    with pytest.raises(ToolRefused, match="query 'bad' refused: .*DELETE"):
        tool.run(
            {
                "queries": [
                    {"name": "good", "sql": "SELECT * FROM zones"},
                    {"name": "bad", "sql": "DELETE FROM zones"},
                ]
            }
        )
    with pytest.raises(ToolRefused, match="no database connection named 'other'"):
        tool.run({"connection": "other", "queries": [{"name": "q", "sql": "SELECT 1"}]})


def test_policy_denylist_and_allowed_tables_add_to_the_builtin_checks(
    tmp_path: Path, sqlite_db: Path
) -> None:
    policy = db_policy(
        tmp_path,
        {"dsn": f"sqlite:///{sqlite_db}", "allowed_tables": ["picks", "zones"]},
        deny_functions=["upper"],
    )
    tool = DbTool(policy, audit(policy))
    assert _query(tool, "WITH z AS (SELECT * FROM zones) SELECT count(*) FROM z")["rows"] == [[5]]
    with pytest.raises(ToolRefused, match="table 'orders'"):
        _query(tool, "SELECT * FROM orders")
    with pytest.raises(ToolRefused, match="upper"):
        _query(tool, "SELECT upper(name) FROM zones")


# -- PostgreSQL -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pg_warehouse(pg_server: Any) -> Iterator[str]:
    from phi_platform.settings import to_sqlalchemy_url

    name = f"phi_wms_{uuid.uuid4().hex[:8]}"
    url = to_sqlalchemy_url(pg_server.ensure_database(name))
    engine = create_engine(url)
    with engine.begin() as conn:
        for table, rows in SAMPLE.tables.items():
            conn.execute(text(create_table_sql(table)))
            if rows:
                columns = ", ".join(f":c{i}" for i in range(len(rows[0])))
                conn.execute(
                    text(f"INSERT INTO {table} VALUES ({columns})"),
                    [{f"c{i}": v for i, v in enumerate(row)} for row in rows],
                )
        conn.execute(text("CREATE SEQUENCE pick_seq"))
        # A function that writes: the parser cannot see inside it, the read-only transaction can.
        conn.execute(
            text(
                "CREATE FUNCTION purge_picks() RETURNS int LANGUAGE sql AS "
                "'DELETE FROM picks RETURNING 1'"
            )
        )
    engine.dispose()
    yield url
    pg_server.drop_database(name)


def _pg_tool(tmp_path: Path, url: str, **limits: Any) -> DbTool:
    os.environ["PHI_TEST_WAREHOUSE_DSN"] = url
    policy = db_policy(tmp_path, {"dsn_env": "PHI_TEST_WAREHOUSE_DSN", **limits})
    return DbTool(policy, audit(policy))


def _pg_snapshot(url: str) -> dict[str, Any]:
    engine = create_engine(url)
    with engine.connect() as conn:
        tables = conn.execute(
            text(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'public' ORDER BY table_name"
            )
        ).scalars()
        snapshot: dict[str, Any] = {"tables": list(tables)}
        for table in snapshot["tables"]:
            snapshot[table] = conn.execute(
                text(
                    "SELECT count(*), md5(string_agg(t::text, '|' ORDER BY t::text)) "
                    f"FROM {table} t"
                )
            ).one()
        snapshot["seq"] = conn.execute(text("SELECT last_value, is_called FROM pick_seq")).one()
    engine.dispose()
    return snapshot


def test_hostile_sql_is_refused_on_postgres_and_the_database_is_unchanged(
    tmp_path: Path, pg_warehouse: str
) -> None:
    before = _pg_snapshot(pg_warehouse)
    tool = _pg_tool(tmp_path, pg_warehouse)
    assert _refuse_all(tool) == []
    tool.close()
    assert _pg_snapshot(pg_warehouse) == before
    assert not any(p.exists() for p in EVIL_FILES)


def test_postgres_read_only_transaction_stops_a_writing_function(
    tmp_path: Path, pg_warehouse: str
) -> None:
    before = _pg_snapshot(pg_warehouse)
    tool = _pg_tool(tmp_path, pg_warehouse)
    with pytest.raises(ToolRefused, match="read-only transaction"):
        _query(tool, "SELECT purge_picks()")
    assert _pg_snapshot(pg_warehouse) == before


def test_postgres_answers_report_queries_with_limits_and_timeout(
    tmp_path: Path, pg_warehouse: str
) -> None:
    tool = _pg_tool(tmp_path, pg_warehouse, max_rows=3, statement_timeout_seconds=0.5)
    result = _query(
        tool,
        "SELECT zone_id, count(*)::int AS n, avg(quantity) AS q FROM picks "
        "WHERE completed_at >= :day_start AND completed_at < :day_end "
        "GROUP BY zone_id ORDER BY zone_id",
        REPORT_DAY,
    )
    assert [r[0] for r in result["rows"]] == ["Z-A", "Z-B", "Z-C"]
    assert result["truncated"] is True and isinstance(result["rows"][0][2], float)
    with pytest.raises(ToolFailed, match="statement timeout"):
        _query(tool, "SELECT count(*) FROM generate_series(1, 100000000) a")


Runner = Callable[[str], dict[str, Any]]


def test_postgres_runs_a_mapped_query_with_its_named_parameters(
    tmp_path: Path, pg_warehouse: str
) -> None:
    # sqlglot prints PostgreSQL parameters as %(name)s; the mapped statement must keep
    # SQLAlchemy's :name, and the mapping may read the table whose name it maps.
    os.environ["PHI_TEST_WAREHOUSE_DSN"] = pg_warehouse
    (tmp_path / "policy.yaml").write_text(
        json.dumps(
            {
                "state_dir": "state",
                "tools": {
                    "db": {
                        "enabled": True,
                        "connections": {"warehouse": {"dsn_env": "PHI_TEST_WAREHOUSE_DSN"}},
                    }
                },
                "contracts": {
                    "warehouse": {
                        "orders": "SELECT order_id, upper(customer) AS customer, created_at, "
                        "due_at, status FROM orders WHERE status <> 'CANCELLED'"
                    }
                },
            }
        )
    )
    from phi_agent.policy import load_policy

    policy = load_policy(tmp_path / "policy.yaml")
    tool = DbTool(policy, audit(policy))
    sql = "SELECT order_id, customer FROM orders WHERE due_at >= :day_start AND due_at < :day_end"
    query = {"name": "q", "sql": sql, "params": REPORT_DAY}
    answer = json.loads(tool.run({"contract": "warehouse", "queries": [query]}))
    rows = answer["results"]["q"]["rows"]
    engine = create_engine(pg_warehouse)
    with engine.connect() as conn:
        expected = conn.execute(
            text(
                "SELECT order_id, upper(customer) FROM orders WHERE status <> 'CANCELLED' "
                "AND due_at >= :day_start AND due_at < :day_end"
            ),
            REPORT_DAY,
        ).all()
    engine.dispose()
    assert sorted(map(tuple, rows)) == sorted(map(tuple, expected)) and len(rows) > 10

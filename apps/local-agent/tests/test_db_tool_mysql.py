"""The db tool on a real MariaDB server (MySQL's protocol and dialect, through PyMySQL):
hostile SQL refused with the database unchanged, read-only enforced by the database as
well, limits, the statement timeout, the report's queries. The database user has every
right on purpose: what keeps the data safe is the agent, not the grants.

MariaDB comes from Debian's packages; ``make test-full`` installs it, so these tests are
``slow`` (left out of ``make test``)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from agent_helpers import REPORT_DAY, audit, db_policy
from hostile_sql import HOSTILE_SQL
from mariadb_server import MariaDB, start_mariadb

from phi_agent.registry import ToolFailed, ToolRefused
from phi_agent.tools.db import DbTool
from phi_agent_config.warehouse_sample import PLANTED, create_table_sql, generate

pytestmark = pytest.mark.slow

SAMPLE = generate(date(2026, 11, 24), weeks=1, orders_per_day=40)
EVIL_FILES = [Path("/tmp/phi-evil"), Path("/tmp/phi-evil.db")]


@pytest.fixture(scope="module")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDB]:
    server = start_mariadb(tmp_path_factory.mktemp("mariadb"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def warehouse(mariadb: MariaDB) -> str:
    with mariadb.root() as con, con.cursor() as cur:
        cur.execute("CREATE DATABASE wms")
        cur.execute("CREATE USER 'phi'@'%' IDENTIFIED BY 'phi-test'")
        cur.execute("GRANT ALL ON *.* TO 'phi'@'%'")
        cur.execute("USE wms")
        for table, rows in SAMPLE.tables.items():
            cur.execute(create_table_sql(table, "mysql"))
            if rows:
                marks = ", ".join(["%s"] * len(rows[0]))
                cur.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
        # A function that writes: the parser cannot see inside it, the read-only transaction can.
        cur.execute(
            "CREATE FUNCTION purge_picks() RETURNS INT MODIFIES SQL DATA "
            "BEGIN DELETE FROM picks; RETURN 1; END"
        )
    return f"mysql://phi:phi-test@127.0.0.1:{mariadb.port}/wms"


def _tool(tmp_path: Path, dsn: str, **limits: Any) -> DbTool:
    os.environ["PHI_TEST_MYSQL_DSN"] = dsn
    policy = db_policy(tmp_path, {"dsn_env": "PHI_TEST_MYSQL_DSN", **limits})
    return DbTool(policy, audit(policy))


def _query(tool: DbTool, sql: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    answer = json.loads(tool.run({"queries": [{"name": "q", "sql": sql, "params": params or {}}]}))
    return dict(answer["results"]["q"])


def _snapshot(mariadb: MariaDB) -> dict[str, Any]:
    with mariadb.root("wms") as con, con.cursor() as cur:
        cur.execute("SHOW TABLES")
        tables = sorted(row[0] for row in cur.fetchall())
        cur.execute(f"CHECKSUM TABLE {', '.join(tables)} EXTENDED")
        sums = {row[0]: row[1] for row in cur.fetchall()}
        cur.execute("SELECT user, host FROM mysql.user ORDER BY user, host")
        users = cur.fetchall()
    return {"tables": tables, "sums": sums, "users": users}


def test_hostile_sql_is_refused_on_mariadb_and_the_database_is_unchanged(
    tmp_path: Path, mariadb: MariaDB, warehouse: str
) -> None:
    before = _snapshot(mariadb)
    tool = _tool(tmp_path, warehouse)
    passed = []
    for sql in HOSTILE_SQL:
        try:
            tool.run({"queries": [{"name": "q", "sql": sql}]})
            passed.append(sql)
        except ToolRefused as exc:
            assert "query 'q' refused" in str(exc)
    tool.close()
    assert passed == []
    assert _snapshot(mariadb) == before
    assert not any(p.exists() for p in EVIL_FILES)


def test_mariadb_read_only_transaction_stops_a_writing_function(
    tmp_path: Path, mariadb: MariaDB, warehouse: str
) -> None:
    before = _snapshot(mariadb)
    tool = _tool(tmp_path, warehouse)
    with pytest.raises(ToolRefused, match="(?i)read only transaction"):
        _query(tool, "SELECT purge_picks()")
    assert _snapshot(mariadb) == before


def test_mariadb_answers_report_queries_within_limits_and_timeout(
    tmp_path: Path, warehouse: str
) -> None:
    tool = _tool(tmp_path, warehouse)
    docks = _query(
        tool,
        "SELECT dock_id, count(*) AS n FROM shipments WHERE loading_started_at >= :day_start "
        "AND loading_started_at < :day_end GROUP BY dock_id ORDER BY dock_id",
        REPORT_DAY,
    )
    assert docks["columns"] == ["dock_id", "n"]
    assert PLANTED["idle_dock"]["dock_id"] not in [row[0] for row in docks["rows"]]
    assert len(docks["rows"]) == 5 and docks["truncated"] is False
    every_pick = _query(tool, "SELECT * FROM picks")
    assert every_pick["row_count"] == len(SAMPLE.tables["picks"]) and not every_pick["truncated"]
    limited = _tool(tmp_path, warehouse, max_rows=3, statement_timeout_seconds=0.5)
    zones = _query(limited, "SELECT zone_id FROM zones ORDER BY zone_id")
    assert zones["rows"] == [["Z-A"], ["Z-B"], ["Z-C"]] and zones["truncated"] is True
    with pytest.raises(ToolFailed, match="statement timeout"):
        # Half a billion joined rows (MariaDB caps recursive CTEs at 1,000 rounds by default).
        _query(limited, "SELECT count(*) FROM picks a, picks b, picks c WHERE a.quantity > 0")


def test_phi_agent_check_reports_the_mariadb_connection(tmp_path: Path, warehouse: str) -> None:
    lines = _tool(tmp_path, warehouse).check()
    assert [(line.ok, line.detail) for line in lines] == [(True, "mysql")]

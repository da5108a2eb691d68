"""What an agent task may see of the customer's systems before it reads them: the db tool's
schema listing and the file tool's folder listing, both bounded by the local policy."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
from agent_helpers import audit, db_policy, write_policy

from phi_agent.policy import load_policy
from phi_agent.registry import ToolRefused
from phi_agent.tools.db import DbTool
from phi_agent.tools.file import FileTool


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "wms.sqlite"
    db = sqlite3.connect(path)
    db.executescript(
        "CREATE TABLE orders (order_id TEXT NOT NULL, zone_id TEXT, due_at TEXT);"
        "CREATE TABLE payroll (employee TEXT, salary REAL);"
        "CREATE VIEW late_orders AS SELECT order_id FROM orders;"
    )
    db.close()
    return path


def _schema(tool: DbTool) -> dict[str, list[str]]:
    listing = json.loads(tool.run({"action": "schema"}))
    return {t["name"]: [c["name"] for c in t["columns"]] for t in listing["tables"]}


def test_schema_lists_only_the_allowed_tables_and_their_columns(
    tmp_path: Path, warehouse: Path
) -> None:
    policy = db_policy(
        tmp_path, {"dsn": f"sqlite:///{warehouse}", "allowed_tables": ["orders", "late_orders"]}
    )
    tool = DbTool(policy, audit(policy))
    assert _schema(tool) == {
        "late_orders": ["order_id"],
        "orders": ["order_id", "zone_id", "due_at"],
    }
    listing = json.loads(tool.run({"action": "schema"}))
    kinds = {t["name"]: t["kind"] for t in listing["tables"]}
    assert kinds == {"late_orders": "view", "orders": "table"}
    assert "payroll" not in json.dumps(listing)
    lines = [json.loads(line) for line in policy.audit_path.read_text().splitlines()]
    assert lines[-1]["event"] == "schema" and lines[-1]["tables"] == 2


def test_schema_without_allowed_tables_lists_every_table(tmp_path: Path, warehouse: Path) -> None:
    policy = db_policy(tmp_path, {"dsn": f"sqlite:///{warehouse}"})
    assert set(_schema(DbTool(policy, audit(policy)))) == {"orders", "payroll", "late_orders"}


def test_schema_of_an_unknown_connection_is_refused(tmp_path: Path, warehouse: Path) -> None:
    policy = db_policy(tmp_path, {"dsn": f"sqlite:///{warehouse}"})
    with pytest.raises(ToolRefused, match="no database connection named 'hr'"):
        DbTool(policy, audit(policy)).run({"action": "schema", "connection": "hr"})


def test_file_list_shows_readable_files_under_the_roots_only(tmp_path: Path) -> None:
    data, evil = tmp_path / "data", tmp_path / "data-evil"
    (data / "sub").mkdir(parents=True)
    evil.mkdir()
    (data / "picks.csv").write_text("a\n1\n")
    (data / "sub" / "note.txt").write_text("dock 4 closed")
    (data / "script.sh").write_text("echo no")
    (evil / "secret.csv").write_text("x\n")
    os.symlink(evil / "secret.csv", data / "link-out.csv")
    policy = load_policy(write_policy(tmp_path, file={"enabled": True, "roots": ["data"]}))
    tool = FileTool(policy, audit(policy))
    listed = json.loads(tool.run({"action": "list"}))
    names = sorted(Path(f["path"]).relative_to(data.resolve()).as_posix() for f in listed["files"])
    assert names == ["picks.csv", "sub/note.txt"]
    sub = json.loads(tool.run({"action": "list", "path": "sub"}))
    assert [Path(f["path"]).name for f in sub["files"]] == ["note.txt"]
    for outside in (str(evil), "../data-evil", str(tmp_path)):
        with pytest.raises(ToolRefused, match="outside the allowed folders"):
            tool.run({"action": "list", "path": outside})

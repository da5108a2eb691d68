"""The file tool: reads exports under the allowed roots, refuses every way out of them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from agent_helpers import audit, write_policy
from openpyxl import Workbook

from phi_agent.policy import load_policy
from phi_agent.registry import ToolFailed, ToolRefused
from phi_agent.tools.file import FileTool


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    evil = tmp_path / "data-evil"
    evil.mkdir()
    (data / "picks.csv").write_text("pick_id,quantity\nPK-1,3\nPK-2,5\n")
    (data / "sub" / "note.txt").write_text("dock 4 closed for repairs")
    (data / "meta.json").write_text('{"site": "Nord"}')
    (data / "big.csv").write_text("a\n" + "1\n" * 20000)
    (data / "script.sh").write_text("echo no")
    (evil / "secret.csv").write_text("password\nhunter2\n")
    (tmp_path / "outside.csv").write_text("x\n1\n")
    os.symlink(tmp_path / "outside.csv", data / "link-out.csv")
    os.symlink(evil, data / "evil-dir")
    os.symlink(data / "picks.csv", data / "link-in.csv")
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["zone_id", "picks"])
    sheet.append(["Z-C", 139])
    workbook.save(data / "zones.xlsx")
    return {"root": tmp_path, "data": data, "evil": evil}


def _tool(layout: dict[str, Path], **extra: object) -> FileTool:
    path = write_policy(
        layout["root"], file={"enabled": True, "roots": ["data"], "max_bytes": 10_000, **extra}
    )
    policy = load_policy(path)
    return FileTool(policy, audit(policy))


def _read(tool: FileTool, path: str) -> dict[str, object]:
    return dict(json.loads(tool.run({"files": [{"name": "f", "path": path}]}))["results"]["f"])


ESCAPES = [
    "../outside.csv",
    "sub/../../outside.csv",
    "{root}/outside.csv",
    "{root}/data-evil/secret.csv",
    "{root}/data/../data-evil/secret.csv",
    "link-out.csv",
    "evil-dir/secret.csv",
    "/etc/passwd",
    "~/../../etc/passwd",
    "script.sh",
    "big.csv",
    "sub",
    "missing/../../outside.csv",
    "picks.csv\x00.txt",
    "",
]


@pytest.mark.parametrize("path", ESCAPES)
def test_paths_outside_the_policy_are_refused(layout: dict[str, Path], path: str) -> None:
    with pytest.raises(ToolRefused):
        _read(_tool(layout), path.format(root=layout["root"]))


def test_reads_csv_xlsx_json_txt_and_a_symlink_that_stays_inside(layout: dict[str, Path]) -> None:
    tool = _tool(layout)
    assert _read(tool, "picks.csv") == {
        "columns": ["pick_id", "quantity"],
        "rows": [["PK-1", "3"], ["PK-2", "5"]],
        "row_count": 2,
        "truncated": False,
    }
    assert _read(tool, "link-in.csv")["row_count"] == 2
    assert _read(tool, str(layout["data"] / "zones.xlsx"))["rows"] == [["Z-C", 139]]
    assert _read(tool, "meta.json") == {"site": "Nord"}
    assert _read(tool, "sub/note.txt") == {"text": "dock 4 closed for repairs"}
    events = [json.loads(line)["event"] for line in tool.audit.path.read_text().splitlines()]
    assert events == ["file_read"] * 5


def test_row_limit_and_missing_file(layout: dict[str, Path]) -> None:
    tool = _tool(layout, max_rows=1)
    assert _read(tool, "picks.csv")["truncated"] is True
    with pytest.raises(ToolFailed, match="does not exist"):
        _read(tool, "nothing.csv")

"""phi-agent installs alone on a customer machine: nothing of the server comes with it."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[1]
SERVER_PACKAGES = {
    "phi-platform", "phi-core-api", "phi-orchestrator", "phi-llm-router",
    "phi-llm-router-service", "fastapi",
    "uvicorn", "procrastinate", "langgraph", "alembic", "pgvector", "starlette",
}  # fmt: skip
ALLOWED_IMPORT_ROOTS = {"phi_agent", "phi_agent_config"}


def _requirement_name(spec: str) -> str:
    return re.split(r"[\[=<>!~; ]", spec, maxsplit=1)[0].lower().replace("_", "-")


def test_dependencies_are_pinned_and_hold_nothing_of_the_server() -> None:
    project = tomllib.loads((APP / "pyproject.toml").read_text())["project"]
    names = {_requirement_name(d) for d in project["dependencies"]}
    assert not names & SERVER_PACKAGES
    assert "phi-agent-config" in names
    for spec in project["dependencies"]:
        if _requirement_name(spec) != "phi-agent-config":
            assert "==" in spec, spec


def test_the_code_imports_no_other_phi_package() -> None:
    for source in (APP / "src" / "phi_agent").rglob("*.py"):
        tree = ast.parse(source.read_text())
        for node in ast.walk(tree):
            modules = []
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = [node.module]
            for module in modules:
                root = module.split(".")[0]
                assert not root.startswith("phi_") or root in ALLOWED_IMPORT_ROOTS, (
                    source,
                    module,
                )


@pytest.mark.slow
def test_installs_alone_in_a_fresh_environment(tmp_path: Path) -> None:
    """What a customer runs: pip install of the two folders into an empty virtualenv."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    repo = APP.parents[1]
    subprocess.run(
        [*pip, "install", str(repo / "packages" / "agent-config"), str(APP)],
        check=True,
        timeout=900,
    )
    listed = subprocess.run(
        [*pip[:-1], "list", "--format", "json"], check=True, capture_output=True, text=True
    ).stdout
    installed = {p["name"].lower().replace("_", "-") for p in json.loads(listed)}
    assert {"phi-agent", "phi-agent-config", "sqlglot", "sqlalchemy"} <= installed
    assert not installed & SERVER_PACKAGES
    assert not any(
        name.startswith("phi-") and name not in {"phi-agent", "phi-agent-config"}
        for name in installed
    )
    version = subprocess.run(
        [str(venv / "bin" / "phi-agent"), "version"], check=True, capture_output=True, text=True
    )
    assert version.stdout.strip() == "phi-agent 0.1.0"

"""phi-agent installs alone on a customer machine: nothing of the server comes with it."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

APP = Path(__file__).resolve().parents[1]
SERVER_PACKAGES = {
    "phi-platform", "phi-core-api", "phi-orchestrator", "phi-llm-router", "fastapi",
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

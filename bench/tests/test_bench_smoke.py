"""Every bench script runs in its smoke mode, so a change that breaks a bench fails `make test`.

Each script is run as its own process with ``--smoke`` (tiny sizes, seconds) against this test
run's PostgreSQL server (``PHI_BENCH_PG_URL``, read by ``bench/bench_db.py``). A new script in
``bench/`` is picked up here as soon as it has a ``__main__`` block; see docs/benchmarks.md.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1]
# Modules that are not scripts: the shared set-up and the ASGI baseline agents_list.py serves.
LIBRARIES = {"bench_db.py", "bare_agents.py"}
SCRIPTS = sorted(p for p in BENCH.glob("*.py") if p.name not in LIBRARIES)


def test_every_script_is_listed() -> None:
    for path in SCRIPTS:
        assert '__name__ == "__main__"' in path.read_text(), (
            f"{path.name} has no __main__ block: make it a script with --smoke, or add it to "
            "LIBRARIES if it is a module the scripts import"
        )


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_bench_runs_in_smoke_mode(script: Path, pg_server: object, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PHI_BENCH_PG_URL": pg_server.url(),  # type: ignore[attr-defined]
        "TMPDIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, str(script), "--smoke"],
        env=env,
        cwd=BENCH.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, (
        f"{script.name} --smoke failed:\n{result.stdout}\n{result.stderr}"
    )
    assert result.stdout.strip(), f"{script.name} --smoke printed no figures"

"""Every bench script runs in its smoke mode, so a change that breaks a bench fails `make test`.

Each script is run as its own process with ``--smoke`` (tiny sizes, seconds) against this test
run's PostgreSQL server (``PHI_BENCH_PG_URL``, read by ``bench/bench_db.py``), in a folder of its
own (``PHI_BENCH_DIR``: data dirs, caches). A new script in ``bench/`` is picked up here as soon
as it has a ``__main__`` block; see docs/benchmarks.md.

The smokes spend much of their time starting services and waiting on them, so they run two at
a time: the first test of the module starts them all (at most two processes at once) and each
test waits for its own script's result. Smokes check that a bench still runs, never a figure,
so sharing the machine does not change what they prove. On pytest-xdist workers (`-n 2`) the
module's tests may be split: each worker's fixture then starts every smoke (`--dist loadfile`
keeps the module on one worker).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1]
# Modules that are not scripts: the shared set-up and the ASGI baseline agents_list.py serves.
LIBRARIES = {"bench_db.py", "bare_agents.py"}
SCRIPTS = sorted(p for p in BENCH.glob("*.py") if p.name not in LIBRARIES)
AT_ONCE = 2


def test_every_script_is_listed() -> None:
    for path in SCRIPTS:
        assert '__name__ == "__main__"' in path.read_text(), (
            f"{path.name} has no __main__ block: make it a script with --smoke, or add it to "
            "LIBRARIES if it is a module the scripts import"
        )


def _smoke(script: Path, pg_url: str, folder: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PHI_BENCH_PG_URL": pg_url,
        "PHI_BENCH_DIR": str(folder / "bench"),
        "TMPDIR": str(folder),
    }
    return subprocess.run(
        [sys.executable, str(script), "--smoke"],
        env=env,
        cwd=BENCH.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def smokes(
    pg_server: object, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Future[subprocess.CompletedProcess[str]]]]:
    url = pg_server.url()  # type: ignore[attr-defined]
    with ThreadPoolExecutor(max_workers=AT_ONCE) as pool:
        yield {
            script.name: pool.submit(_smoke, script, url, tmp_path_factory.mktemp(script.stem))
            for script in SCRIPTS
        }


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_bench_runs_in_smoke_mode(
    script: Path, smokes: dict[str, Future[subprocess.CompletedProcess[str]]]
) -> None:
    result = smokes[script.name].result()
    assert result.returncode == 0, (
        f"{script.name} --smoke failed:\n{result.stdout}\n{result.stderr}"
    )
    assert result.stdout.strip(), f"{script.name} --smoke printed no figures"

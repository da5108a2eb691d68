"""The core API refuses to start when its generated signing secret is open to other users."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from phi_platform.embedded_pg import free_port


def _start(data_dir: Path, database_url: str) -> tuple[subprocess.Popen[str], str]:
    port = free_port()
    env = {
        **os.environ,
        "PHI_DATA_DIR": str(data_dir),
        "DATABASE_URL": database_url,
        "PHI_CORE_API_PORT": str(port),
    }
    env.pop("PHI_JWT_SECRET", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "phi_core_api.main"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return proc, f"http://127.0.0.1:{port}"


def test_exposed_jwt_secret_stops_the_start_naming_the_file(
    tmp_path: Path, database_url: str
) -> None:
    secret = tmp_path / "secrets" / "jwt_secret"
    secret.parent.mkdir()
    secret.write_text("x" * 64)
    secret.chmod(0o644)
    proc, _ = _start(tmp_path, database_url)
    try:
        output, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode != 0
    assert str(secret) in output
    assert "open to other users" in output


def test_private_generated_secret_lets_it_start(tmp_path: Path, database_url: str) -> None:
    proc, url = _start(tmp_path, database_url)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.communicate()[0]
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "core API did not answer /health in 60 s"
            time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert (tmp_path / "secrets" / "jwt_secret").stat().st_mode & 0o777 == 0o600

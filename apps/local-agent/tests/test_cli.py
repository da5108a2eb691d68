"""The phi-agent command as IT staff run it: real subprocesses, exit codes, messages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from agent_helpers import agent_config, fake_key

PHI_AGENT = str(Path(sys.executable).parent / "phi-agent")


def phi_agent(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != "PHI_AGENT_KEY"}
    return subprocess.run(
        [PHI_AGENT, *args],
        capture_output=True,
        text=True,
        env={**base, **(env or {}), "NO_COLOR": "1"},
        cwd=cwd,
        timeout=120,
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("demo")
    done = phi_agent("demo-data", str(directory), "--end-date", "2026-11-24", "--weeks", "1")
    assert done.returncode == 0, done.stderr
    return directory


def test_demo_data_writes_database_exports_and_policy(demo: Path) -> None:
    assert (demo / "warehouse.sqlite").stat().st_size > 100_000
    assert (demo / "exports" / "picks_2026-11-24.csv").exists()
    assert (demo / "exports" / "picks_2026-11-24.xlsx").exists()
    assert (demo / "exports" / "zones.csv").exists()
    policy = yaml.safe_load((demo / "policy.yaml").read_text())
    assert policy["tools"]["db"]["connections"]["warehouse"]["dsn"] == "sqlite:///warehouse.sqlite"


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["--sql", "SELECT zone_id, count(*) FROM picks GROUP BY zone_id"], 0, "allowed"),
        (["--sql", "select 1 from zones", "--connection", "warehouse"], 0, "allowed"),
        (["--sql", "DELETE FROM picks"], 3, "refused: only SELECT"),
        (["--sql", "SELECT 1; DROP TABLE picks"], 3, "exactly one statement"),
        (["--sql", "SELECT pg_read_file('/etc/passwd')"], 3, "pg_read_file"),
        (["--sql", "SELECT 1", "--connection", "crm"], 3, "no database connection named 'crm'"),
        (["--path", "picks_2026-11-24.csv"], 0, "allowed"),
        (["--path", "../policy.yaml"], 3, "outside the allowed folders"),
        (["--path", "/etc/passwd"], 3, "outside the allowed folders"),
    ],
)
def test_policy_test_exit_codes(demo: Path, args: list[str], code: int, says: str) -> None:
    done = phi_agent("policy", "test", "--policy", str(demo / "policy.yaml"), *args)
    assert done.returncode == code, (done.stdout, done.stderr)
    assert says in done.stdout


def test_policy_test_does_not_run_anything(demo: Path) -> None:
    before = (demo / "warehouse.sqlite").read_bytes()
    phi_agent(
        "policy", "test", "--policy", str(demo / "policy.yaml"), "--sql", "SELECT * FROM picks"
    )
    assert (demo / "warehouse.sqlite").read_bytes() == before
    assert not (demo / ".phi-agent" / "audit.jsonl").exists()


def test_an_invalid_policy_stops_naming_file_and_field(tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        yaml.safe_dump({"tools": {"db": {"connections": {"w": {"dsn_env": "X", "max_rows": 0}}}}})
    )
    done = phi_agent("policy", "test", "--policy", str(policy), "--sql", "SELECT 1")
    assert done.returncode == 2
    assert str(policy) in done.stderr and "tools.db.connections.w.max_rows" in done.stderr


def test_run_refuses_a_bad_config_or_policy_or_missing_key(demo: Path, tmp_path: Path) -> None:
    config = tmp_path / "phi-agent-config.yaml"
    bad = agent_config()
    del bad["org_id"]
    config.write_text(yaml.safe_dump(bad))
    policy = str(demo / "policy.yaml")
    key = {"PHI_AGENT_KEY": fake_key()}
    done = phi_agent("run", "--config", str(config), "--policy", policy, env=key)
    assert done.returncode == 2
    assert str(config) in done.stderr and "org_id" in done.stderr

    config.write_text(yaml.safe_dump(agent_config()))
    broken = tmp_path / "broken-policy.yaml"
    broken.write_text("policy_version: 1\ntools:\n  file:\n    enabled: true\n")
    done = phi_agent("run", "--config", str(config), "--policy", str(broken), env=key)
    assert done.returncode == 2
    assert str(broken) in done.stderr and "tools.file" in done.stderr and "no roots" in done.stderr

    done = phi_agent("run", "--config", str(config), "--policy", policy, cwd=tmp_path)
    assert done.returncode == 2 and "PHI_AGENT_KEY" in done.stderr

    done = phi_agent(
        "run", "--config", str(config), "--policy", policy, env={"PHI_AGENT_KEY": "nope"}
    )
    assert done.returncode == 2 and "not a Phi local-agent key" in done.stderr


def test_check_reports_what_works_and_what_does_not(demo: Path, tmp_path: Path) -> None:
    config = tmp_path / "phi-agent-config.yaml"
    config.write_text(yaml.safe_dump(agent_config()))
    env_file = tmp_path / "phi-agent.env"
    env_file.write_text(f"PHI_AGENT_KEY={fake_key()}\n")
    args = ["check", "--config", str(config), "--env-file", str(env_file)]
    done = phi_agent(*args, "--policy", str(demo / "policy.yaml"))
    assert done.returncode == 0, done.stdout
    assert "db connection 'warehouse': sqlite" in done.stdout and "All good." in done.stdout

    policy = tmp_path / "policy.yaml"
    policy.write_text(
        yaml.safe_dump(
            {"tools": {"db": {"enabled": True, "connections": {"w": {"dsn_env": "PHI_NOT_SET"}}}}}
        )
    )
    done = phi_agent(*args, "--policy", str(policy))
    assert done.returncode == 1
    assert "FAIL db connection 'w'" in done.stdout and "PHI_NOT_SET" in done.stdout


def test_version() -> None:
    done = phi_agent("version")
    assert done.returncode == 0 and done.stdout.strip() == "phi-agent 0.1.0"

"""scripts/apt-install-missing.sh against stand-ins for dpkg-query, apt-get and sudo that record
what they are asked: the real apt would change the machine the tests run on."""

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "apt-install-missing.sh"

# dpkg-query knows the packages listed in $FAKE_INSTALLED; apt-get prints $FAKE_PLAN when
# simulating and records every call (through sudo or not) in $FAKE_LOG.
FAKES = {
    "dpkg-query": """#!/bin/sh
for package; do :; done
case " $FAKE_INSTALLED " in *" $package "*) printf installed ;; *) exit 1 ;; esac
""",
    "apt-get": """#!/bin/sh
echo "${SUDO_USED:+sudo }apt-get $*" >> "$FAKE_LOG"
case "$*" in *-s*) cat "$FAKE_PLAN" ;; esac
""",
    "sudo": """#!/bin/sh
SUDO_USED=1 exec "$@"
""",
    "id": """#!/bin/sh
echo "$FAKE_UID"
""",
}

PLAN_NEW_ONLY = """NOTE: This is only a simulation!
Inst wrk (4.1.0-3 Debian:12 [amd64])
Conf wrk (4.1.0-3 Debian:12 [amd64])
"""
PLAN_WITH_UPGRADE = """NOTE: This is only a simulation!
Inst perl-base [5.36.0-7+deb12u2] (5.36.0-7+deb12u4 Debian-Security:12 [amd64]) []
Inst mariadb-server (1:10.11.14-0+deb12u2 Debian:12 [amd64])
"""


def run(tmp_path: Path, *packages: str, installed: str = "", plan: str = "", **env: str):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, text in FAKES.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    (tmp_path / "plan").write_text(plan)
    log = tmp_path / "apt.log"
    log.write_text("")
    result = subprocess.run(
        ["sh", str(SCRIPT), *packages],
        env={
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "FAKE_INSTALLED": installed,
            "FAKE_PLAN": str(tmp_path / "plan"),
            "FAKE_LOG": str(log),
            "FAKE_UID": "0",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=30,
    )
    return result, log.read_text().splitlines()


def test_nothing_happens_when_every_package_is_installed(tmp_path: Path) -> None:
    result, calls = run(tmp_path, "chromium", "wrk", installed="chromium wrk")
    assert result.returncode == 0, result.stderr
    assert calls == []


def test_only_the_missing_packages_are_installed_without_recommends_or_upgrades(
    tmp_path: Path,
) -> None:
    result, calls = run(tmp_path, "chromium", "wrk", installed="chromium", plan=PLAN_NEW_ONLY)
    assert result.returncode == 0, result.stderr
    flags = "-y -q --no-install-recommends --no-upgrade -o DPkg::Lock::Timeout=600"
    assert calls == [f"apt-get -s install {flags} wrk", f"apt-get install {flags} wrk"]


def test_an_install_that_would_upgrade_a_package_is_refused_and_says_why(
    tmp_path: Path,
) -> None:
    result, calls = run(tmp_path, "mariadb-server", plan=PLAN_WITH_UPGRADE)
    assert result.returncode == 1
    assert "perl-base 5.36.0-7+deb12u2 -> 5.36.0-7+deb12u4" in result.stderr
    assert "PHI_APT_ALLOW_UPGRADES=1" in result.stderr
    assert all(" -s " in call for call in calls), calls  # only asked, never installed


def test_upgrades_go_ahead_when_allowed(tmp_path: Path) -> None:
    result, calls = run(
        tmp_path, "mariadb-server", plan=PLAN_WITH_UPGRADE, PHI_APT_ALLOW_UPGRADES="1"
    )
    assert result.returncode == 0, result.stderr
    assert calls[-1].startswith("apt-get install ") and calls[-1].endswith(" mariadb-server")


@pytest.mark.parametrize(("uid", "prefix"), [("0", "apt-get install"), ("1000", "sudo apt-get")])
def test_apt_runs_through_sudo_only_when_not_root(tmp_path: Path, uid: str, prefix: str) -> None:
    result, calls = run(tmp_path, "wrk", plan=PLAN_NEW_ONLY, FAKE_UID=uid)
    assert result.returncode == 0, result.stderr
    assert calls[-1].startswith(prefix)

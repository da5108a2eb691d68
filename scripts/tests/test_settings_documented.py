"""Every `PHI_*` variable the code reads is documented: named in README.md (its configuration
table) or in a file of docs/. The variables are the fields of the services' settings classes
(pydantic-settings, prefix `PHI_`) and the names the code spells out itself: a quoted name
(`os.environ.get("PHI_X")`, `positiveInt("PHI_X", …)`), `process.env.PHI_X` in the web app's
JavaScript, `$PHI_X` / `${PHI_X…}` / `$(PHI_X)` in shell, Makefile, compose and Dockerfiles.
Tests are left out: what they set is theirs."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from pydantic import AliasChoices
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[2]
NAME = r"PHI_[A-Z0-9_]*[A-Z0-9]"
READS = [
    re.compile(rf"[\"']({NAME})[\"']"),
    re.compile(rf"process\.env\.({NAME})"),
    re.compile(rf"\$[{{(]?({NAME})"),
]
SOURCES = re.compile(r"(\.(py|mjs|js|ts|tsx|sh|ya?ml)|Makefile|Dockerfile)$")
# Names the code writes for itself, not settings anyone gives it.
NOT_SETTINGS = {
    "PHI_BENCH_DSN": "bench/local_agent_db.py puts the DSN there for the policy it writes",
}


def _is_test(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return (
        "/tests/" in f"/{path}"
        or "/e2e/" in f"/{path}"
        or name.startswith("test_")
        or name in ("conftest.py", "testing.py")
        or name.endswith(".test.ts")
    )


def _documented() -> set[str]:
    texts = [(ROOT / "README.md").read_text()]
    texts += [p.read_text() for p in sorted((ROOT / "docs").glob("*.md"))]
    return set(re.findall(NAME, "\n".join(texts)))


def _settings_variables() -> dict[str, str]:
    from phi_core_api.settings import CoreApiSettings
    from phi_llm_router.settings import RouterServiceSettings
    from phi_orchestrator.settings import OrchestratorSettings

    found: dict[str, str] = {}
    classes: list[type[BaseSettings]] = [
        CoreApiSettings,
        OrchestratorSettings,
        RouterServiceSettings,
    ]
    for cls in classes:
        prefix = str(cls.model_config.get("env_prefix", ""))
        for field_name, field in cls.model_fields.items():
            alias = field.validation_alias
            if isinstance(alias, AliasChoices):
                names = [c for c in alias.choices if isinstance(c, str)]
            elif isinstance(alias, str):
                names = [alias]
            else:
                names = [(prefix + field_name).upper()]
            for name in names:
                if name.startswith("PHI_"):
                    found.setdefault(name, f"{cls.__name__}.{field_name}")
    return found


def _spelled_out() -> dict[str, str]:
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    found: dict[str, str] = {}
    for path in files:
        if not SOURCES.search(path) or _is_test(path) or not (ROOT / path).is_file():
            continue
        text = (ROOT / path).read_text(errors="replace")
        for pattern in READS:
            for match in pattern.finditer(text):
                found.setdefault(match.group(1), path)
    return found


def test_every_setting_the_code_reads_is_documented() -> None:
    read = {**_spelled_out(), **_settings_variables()}
    # The scan finds what it should: a settings field, a name spelled out in Python, in the
    # web server's JavaScript, and in a compose file.
    assert read["PHI_LONG_POLL_MAX_SECONDS"] == "OrchestratorSettings.long_poll_max_seconds"
    assert {"PHI_EMBEDDING_BATCH_SIZE", "PHI_WEB_REQUEST_TIMEOUT_SECONDS", "PHI_VERSION"} <= set(
        read
    )
    documented = _documented()
    missing = {
        name: where
        for name, where in sorted(read.items())
        if name not in documented and name not in NOT_SETTINGS
    }
    assert not missing, (
        "PHI_* settings the code reads that neither README.md nor docs/ names (say what each "
        f"does and its default, where that service's settings are listed): {missing}"
    )

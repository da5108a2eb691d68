"""Loading what the agent starts from: the downloaded config, the key, the local policy.

The key is read from ``PHI_AGENT_KEY`` or from a local env file (``KEY=value`` lines), never
from the downloaded config, which the cloud wrote and which holds no secret.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from phi_agent.policy import Policy, PolicyFileError, load_policy
from phi_agent_config import AgentConfig, ConfigFileError, load_config

KEY_PATTERN = re.compile(r"^phia_[0-9a-f]{32}_[A-Za-z0-9_-]{43}$")
DEFAULT_ENV_FILE = "phi-agent.env"


class StartupError(Exception):
    """The agent cannot start; the message names the file, the field and the reason."""


@dataclass(frozen=True)
class Startup:
    config: AgentConfig
    policy: Policy
    key: str


def read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :]
        if "=" not in line:
            raise StartupError(f"{path}: line {number} is not NAME=value")
        name, value = line.split("=", 1)
        values[name.strip()] = value.strip().strip("'\"")
    return values


def read_key(env_file: Path | None) -> str:
    """The agent key from ``PHI_AGENT_KEY``, else from ``env_file`` if it exists."""
    key = os.environ.get("PHI_AGENT_KEY", "").strip()
    source = "PHI_AGENT_KEY"
    if not key and env_file is not None and env_file.is_file():
        key = read_env_file(env_file).get("PHI_AGENT_KEY", "").strip()
        source = f"{env_file} (PHI_AGENT_KEY)"
    if not key:
        where = f" or put PHI_AGENT_KEY=... in {env_file}" if env_file else ""
        raise StartupError(
            f"no agent key: set the environment variable PHI_AGENT_KEY{where} "
            "(create a key on the agent's page in Phi Agents)"
        )
    if not KEY_PATTERN.match(key):
        raise StartupError(
            f"{source}: not a Phi local-agent key (expected phia_<32 hex>_<43 characters>)"
        )
    return key


def load_agent_config(path: Path) -> AgentConfig:
    try:
        return load_config(path)
    except ConfigFileError as exc:
        raise StartupError(str(exc)) from exc


def load_local_policy(path: Path) -> Policy:
    try:
        return load_policy(path)
    except PolicyFileError as exc:
        raise StartupError(str(exc)) from exc


def load_startup(config_path: Path, policy_path: Path, env_file: Path | None) -> Startup:
    config = load_agent_config(config_path)
    policy = load_local_policy(policy_path)
    return Startup(config=config, policy=policy, key=read_key(env_file))

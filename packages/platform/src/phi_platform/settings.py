"""Settings shared by every service.

Each service defines one settings class that inherits from :class:`PlatformSettings`, so
the data directory, database location, secrets and embedding choice are read the same way
everywhere. Values come from environment variables (prefix ``PHI_`` unless stated).
"""

from __future__ import annotations

import os
import secrets
import stat
import tempfile
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from phi_platform.secret_box import SecretBox

REPO_ROOT = Path(__file__).resolve().parents[4]


def default_data_dir() -> Path:
    """`.phi/` in the repository when running from a checkout, else in the working directory."""
    if (REPO_ROOT / "Makefile").exists():
        return REPO_ROOT / ".phi"
    return Path.cwd() / ".phi"


class SecretFileExposed(RuntimeError):
    """A stored secret can be read by other users of the machine; the service will not start."""


def read_or_create_secret(path: Path, nbytes: int = 32) -> str:
    """Return the secret stored at ``path``, generating it on first use.

    The file is created with mode 0600 in one step (never written first and narrowed after),
    so no other user can read it even for a moment. An existing file that other users can
    read or write is refused with :class:`SecretFileExposed`, naming the file: it may have
    been read already, and silently using it would hide that.
    """
    if path.exists():
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise SecretFileExposed(
                f"{path} is open to other users (mode {mode:04o}); the secret in it may have "
                f"leaked. Replace it (rm {path}; a new one is generated) or, if you trust it, "
                f"chmod 600 {path}"
            )
        value = path.read_text().strip()
        if value:
            return value
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(nbytes)
    # mkstemp creates the file 0600; the rename makes it appear complete or not at all.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(value)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return value


# Settings that hold a secret: each may also be read from a file whose path is in the
# variable's name + ``_FILE`` (``PHI_JWT_SECRET_FILE=/run/secrets/jwt``), the way container
# orchestrators mount secrets, so the value never sits in the process environment.
SECRET_SETTINGS = (
    "database_url",
    "jwt_secret",
    "llm_router_token",
    "metrics_token",
    "embedding_api_key",
    "secrets_key",
)


def variable_name(field: str) -> str:
    """The environment variable of a setting (``jwt_secret`` -> ``PHI_JWT_SECRET``)."""
    return "DATABASE_URL" if field == "database_url" else f"PHI_{field.upper()}"


class MissingSharedSetting(ValueError):
    """Multi-host mode without a setting every replica must share; names the variables."""


class PlatformSettings(BaseSettings):
    # hide_input_in_errors: a service that refuses to start prints why, never the values it
    # was given (DATABASE_URL and the secrets are among them).
    model_config = SettingsConfigDict(env_prefix="PHI_", extra="ignore", hide_input_in_errors=True)

    # Several hosts run replicas of the services: nothing may be generated into, or read
    # from, one host's data dir. Each service then refuses to start without the settings
    # all replicas must share (multi_host_missing), naming them.
    multi_host: bool = False

    data_dir: Path = Field(default_factory=default_data_dir)
    # An existing server; when unset the embedded PostgreSQL under data_dir is used.
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "PHI_DATABASE_URL")
    )
    pg_host: str = "127.0.0.1"
    pg_port: int = 5432
    pg_database: str = "phi"
    db_pool_size: int = 10

    jwt_secret: str | None = None
    jwt_ttl_minutes: int = 60
    # Encrypts the secrets the platform stores and must read back (webhook signing keys):
    # see phi_platform.secret_box. Generated into the data dir on a single host.
    secrets_key: str | None = None

    embedding_provider: str = "local"  # local | openai
    embedding_model: str = "multilingual-e5-small"
    embedding_dim: int = 384

    # Memories (phi_search.memory): how many one organization may keep, across its own
    # namespace and its agents' (expired ones do not count), and the longest text of one.
    # Read by core-api (the API) and the orchestrator (reports and agent tasks remember).
    max_memories_per_org: int = Field(default=10_000, ge=1)
    memory_max_chars: int = Field(default=2000, ge=1, le=8000)

    @model_validator(mode="after")
    def _secret_files_and_shared_settings(self) -> PlatformSettings:
        for name in SECRET_SETTINGS:
            if name not in type(self).model_fields or getattr(self, name):
                continue
            variable = f"{variable_name(name)}_FILE"
            path = os.environ.get(variable)
            if not path:
                continue
            try:
                value = Path(path).read_text().strip()
            except OSError as exc:
                raise ValueError(f"{variable}={path}: cannot read it ({exc.strerror})") from None
            if not value:
                raise ValueError(f"{variable}={path}: the file is empty")
            setattr(self, name, value)
        if self.secrets_key:
            from phi_platform.secret_box import parse_keys

            parse_keys(self.secrets_key)  # BadSecretsKey (a ValueError) names the problem
        if self.multi_host:
            missing = [variable_name(name) for name in self.multi_host_missing()]
            if missing:
                raise MissingSharedSetting(
                    f"PHI_MULTI_HOST is on but {', '.join(missing)} "
                    f"{'is' if len(missing) == 1 else 'are'} not set: every replica must be "
                    "given the same value (in the environment, or a mounted file named by "
                    f"{missing[0]}_FILE); nothing is generated on one host in this mode"
                )
        return self

    def multi_host_missing(self) -> list[str]:
        """Settings this service needs from outside when it runs on several hosts (field
        names). Services add theirs."""
        return [] if self.database_url else ["database_url"]

    @property
    def secrets_dir(self) -> Path:
        return self.data_dir / "secrets"

    @cached_property
    def resolved_database_url(self) -> str:
        """SQLAlchemy URL (psycopg 3 driver) for the configured or embedded database."""
        if self.database_url:
            return to_sqlalchemy_url(self.database_url)
        password = read_or_create_secret(self.secrets_dir / "pg_password")
        return (
            f"postgresql+psycopg://phi:{quote(password)}@{self.pg_host}:{self.pg_port}/"
            f"{self.pg_database}"
        )

    @property
    def libpq_database_url(self) -> str:
        """The same location as a plain libpq URL (for psycopg, procrastinate, LangGraph)."""
        return self.resolved_database_url.replace("postgresql+psycopg://", "postgresql://", 1)

    @cached_property
    def resolved_secrets_key(self) -> str:
        """``secrets_key``, or the one generated into the data dir (refused in multi-host
        mode: every replica must decrypt what another stored)."""
        if self.secrets_key:
            return self.secrets_key
        if self.multi_host:
            raise MissingSharedSetting(
                "PHI_MULTI_HOST is on but PHI_SECRETS_KEY is not set: every replica must be "
                "given the same value (or PHI_SECRETS_KEY_FILE)"
            )
        return read_or_create_secret(self.secrets_dir / "secrets_key", 32)

    @cached_property
    def secret_box(self) -> SecretBox:
        """Encrypts and decrypts stored secrets with :attr:`resolved_secrets_key`."""
        from phi_platform.secret_box import SecretBox

        return SecretBox(self.resolved_secrets_key)

    @cached_property
    def resolved_jwt_secret(self) -> str:
        if self.jwt_secret:
            return self.jwt_secret
        return read_or_create_secret(self.secrets_dir / "jwt_secret", 48)


def to_sqlalchemy_url(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url

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
from urllib.parse import quote

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

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


class PlatformSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PHI_", extra="ignore")

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

    embedding_provider: str = "local"  # local | openai
    embedding_model: str = "multilingual-e5-small"
    embedding_dim: int = 384

    # Memories (phi_search.memory): how many one organization may keep, across its own
    # namespace and its agents' (expired ones do not count), and the longest text of one.
    # Read by core-api (the API) and the orchestrator (reports and agent tasks remember).
    max_memories_per_org: int = Field(default=10_000, ge=1)
    memory_max_chars: int = Field(default=2000, ge=1, le=8000)

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
    def resolved_jwt_secret(self) -> str:
        if self.jwt_secret:
            return self.jwt_secret
        return read_or_create_secret(self.secrets_dir / "jwt_secret", 48)


def to_sqlalchemy_url(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url

"""The local policy: a file the customer owns that decides what this agent may do.

The cloud can only ask within it: which tools are on, which databases (by name, DSN from the
environment), the SQL limits, which directories and file types. It is read once at start and
never sent to or changed by the cloud.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from phi_agent.contract_mapping import output_columns, parse_mapping
from phi_agent.sql_guard import SqlRefused, dialect_for
from phi_agent_config.data_contract import CONTRACTS

POLICY_VERSION: Literal[1] = 1
DEFAULT_EXTENSIONS = ["csv", "xlsx", "json", "txt"]


class PolicyFileError(ValueError):
    """The policy file cannot be read or does not validate; the message names file and field."""


class _Strict(BaseModel):
    # A typo in a hand-edited policy must stop the agent, not be silently ignored.
    model_config = ConfigDict(extra="forbid")


class DatabaseConnection(_Strict):
    """A named database. The DSN comes from ``dsn_env`` (an environment variable), or from
    ``dsn`` when it holds no password (a SQLite file, a socket login)."""

    dsn_env: str | None = Field(default=None, pattern=r"^[A-Z_][A-Z0-9_]*$")
    dsn: str | None = None
    statement_timeout_seconds: float = Field(default=30, gt=0, le=3600)
    max_rows: int = Field(default=100_000, ge=1, le=10_000_000)
    max_result_bytes: int = Field(default=8_000_000, ge=1_000, le=1_000_000_000)
    allowed_tables: list[str] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> DatabaseConnection:
        if (self.dsn_env is None) == (self.dsn is None):
            raise ValueError("give exactly one of dsn_env (recommended) or dsn")
        if self.dsn and re.search(r"://[^/@:]*:[^/@]+@", self.dsn):
            raise ValueError(
                "dsn holds a password; put the DSN in an environment variable and name it in "
                "dsn_env"
            )
        return self

    def resolve_dsn(self) -> str:
        """The DSN to connect with; raises ValueError naming the missing variable."""
        if self.dsn is not None:
            return self.dsn
        assert self.dsn_env is not None
        value = os.environ.get(self.dsn_env, "").strip()
        if not value:
            raise ValueError(f"environment variable {self.dsn_env} (the DSN) is not set")
        return value


class DbToolPolicy(_Strict):
    enabled: bool = False
    default_connection: str | None = None
    connections: dict[str, DatabaseConnection] = Field(default_factory=dict)
    # Added to the built-in denylist (tools/sql_guard.py), never replacing it.
    deny_functions: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _default_exists(self) -> DbToolPolicy:
        if self.enabled and not self.connections:
            raise ValueError("the db tool is enabled but has no connections")
        if self.default_connection is not None and self.default_connection not in self.connections:
            raise ValueError(
                f"default_connection '{self.default_connection}' is not one of the connections "
                f"({', '.join(sorted(self.connections)) or 'none'})"
            )
        return self

    def connection(self, name: str | None) -> tuple[str, DatabaseConnection]:
        """The connection called ``name`` (None: the default, or the only one)."""
        if name is None:
            if self.default_connection is not None:
                name = self.default_connection
            elif len(self.connections) == 1:
                name = next(iter(self.connections))
            else:
                raise LookupError("no connection named and the policy has no default_connection")
        if name not in self.connections:
            raise LookupError(f"the policy has no database connection named '{name}'")
        return name, self.connections[name]


class FileToolPolicy(_Strict):
    enabled: bool = False
    roots: list[Path] = Field(default_factory=list)
    extensions: list[str] = Field(default_factory=lambda: list(DEFAULT_EXTENSIONS))
    max_bytes: int = Field(default=50_000_000, ge=1, le=2_000_000_000)
    max_rows: int = Field(default=100_000, ge=1, le=10_000_000)
    max_result_bytes: int = Field(default=8_000_000, ge=1_000, le=1_000_000_000)

    @field_validator("extensions")
    @classmethod
    def _known_extensions(cls, value: list[str]) -> list[str]:
        cleaned = [e.lower().lstrip(".") for e in value]
        unknown = sorted(set(cleaned) - set(DEFAULT_EXTENSIONS))
        if unknown:
            raise ValueError(
                f"unsupported extension(s) {', '.join(unknown)}; this version reads "
                f"{', '.join(DEFAULT_EXTENSIONS)}"
            )
        return cleaned

    @model_validator(mode="after")
    def _roots_when_enabled(self) -> FileToolPolicy:
        if self.enabled and not self.roots:
            raise ValueError("the file tool is enabled but has no roots")
        return self


class UnavailableToolPolicy(_Strict):
    enabled: bool = False


class ToolsPolicy(_Strict):
    db: DbToolPolicy = Field(default_factory=DbToolPolicy)
    file: FileToolPolicy = Field(default_factory=FileToolPolicy)
    cctv: UnavailableToolPolicy = Field(default_factory=UnavailableToolPolicy)
    email: UnavailableToolPolicy = Field(default_factory=UnavailableToolPolicy)
    browser: UnavailableToolPolicy = Field(default_factory=UnavailableToolPolicy)


class Policy(_Strict):
    """The whole policy file. Relative paths are taken from the file's own directory."""

    policy_version: Literal[1] = POLICY_VERSION
    name: str | None = Field(default=None, max_length=200)
    state_dir: Path = Path(".phi-agent")
    audit_log: Path | None = None
    max_parallel_calls: int = Field(default=2, ge=1, le=32)
    tools: ToolsPolicy = Field(default_factory=ToolsPolicy)
    # Per data contract (phi_agent_config.data_contract), per table: one SELECT over the
    # customer's own tables that gives the contract's columns (contract_mapping.py).
    contracts: dict[str, dict[str, str]] = Field(default_factory=dict)

    @property
    def audit_path(self) -> Path:
        return self.audit_log or self.state_dir / "audit.jsonl"

    def enabled_tools(self) -> list[str]:
        return [name for name in ("db", "file") if getattr(self.tools, name).enabled]

    def contracts_connection(self) -> str | None:
        """The db connection the contract mappings read (the default, or the only one)."""
        try:
            return self.tools.db.connection(None)[0]
        except LookupError:
            return None


def _format(exc: ValidationError) -> str:
    return "; ".join(
        f"field {'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
        for err in exc.errors()
    )


def parse_policy(data: Any, base_dir: Path) -> Policy:
    """Validate parsed policy data; relative paths are resolved against ``base_dir``."""
    if not isinstance(data, dict):
        raise PolicyFileError("the policy must be a mapping (policy_version, tools, ...)")
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        raise PolicyFileError(_format(exc)) from exc
    policy.state_dir = (base_dir / policy.state_dir).expanduser()
    if policy.audit_log is not None:
        policy.audit_log = (base_dir / policy.audit_log).expanduser()
    policy.tools.file.roots = [(base_dir / r).expanduser() for r in policy.tools.file.roots]
    for conn in policy.tools.db.connections.values():
        # A relative SQLite path in a hand-written dsn is relative to the policy file too.
        if (
            conn.dsn
            and conn.dsn.startswith("sqlite:///")
            and not conn.dsn.startswith("sqlite:////")
        ):
            rel = conn.dsn[len("sqlite:///") :]
            if rel and not rel.startswith(":memory:"):
                conn.dsn = "sqlite:///" + str((base_dir / rel).resolve())
    _check_contracts(policy)
    return policy


def _check_contracts(policy: Policy) -> None:
    """Refuse a mapping that could never run: an unknown contract or table, a statement the
    read-only guard refuses, a table outside ``allowed_tables``, a missing contract column."""
    if not policy.contracts:
        return
    db = policy.tools.db
    if not db.enabled:
        raise PolicyFileError("field contracts: contract mappings need the db tool enabled")
    conn_name = policy.contracts_connection()
    if conn_name is None:
        raise PolicyFileError(
            "field contracts: the db tool has several connections and no default_connection; "
            "name the one the mappings read in tools.db.default_connection"
        )
    conn = db.connections[conn_name]
    dsn = conn.dsn or os.environ.get(conn.dsn_env or "", "").strip()
    try:
        dialect: str | None = dialect_for(dsn) if dsn else None
    except ValueError as exc:
        raise PolicyFileError(f"field tools.db.connections.{conn_name}: {exc}") from exc
    for contract_name, tables in policy.contracts.items():
        contract = CONTRACTS.get(contract_name)
        if contract is None:
            raise PolicyFileError(
                f"field contracts.{contract_name}: no data contract of that name (this version "
                f"knows {', '.join(sorted(CONTRACTS))})"
            )
        known = [t.name for t in contract.tables]
        for table_name, sql in tables.items():
            where = f"field contracts.{contract_name}.{table_name}"
            if table_name not in known:
                raise PolicyFileError(
                    f"{where}: the contract '{contract_name}' has no table '{table_name}' "
                    f"(its tables: {', '.join(known)})"
                )
            try:
                mapping = parse_mapping(
                    sql,
                    dialect,
                    extra_denied=db.deny_functions,
                    allowed_tables=conn.allowed_tables,
                )
            except SqlRefused as exc:
                raise PolicyFileError(f"{where}: the mapping is refused: {exc}") from exc
            given = output_columns(mapping)
            if given is not None:
                missing = [c for c in contract.table(table_name).column_names() if c not in given]
                if missing:
                    raise PolicyFileError(
                        f"{where}: the mapping gives no column {', '.join(missing)} (select "
                        f"it AS that name, or NULL AS it where the contract lets it be empty)"
                    )


def load_policy(path: str | Path) -> Policy:
    """Read and validate the policy at ``path``; errors name the file, the field and the reason."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyFileError(f"{path}: cannot read the policy: {exc.strerror or exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyFileError(f"{path}: not valid YAML: {exc}") from exc
    try:
        return parse_policy(data, path.resolve().parent)
    except PolicyFileError as exc:
        raise PolicyFileError(f"{path}: {exc}") from exc

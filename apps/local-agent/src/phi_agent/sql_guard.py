"""The first of the two read-only checks: parse the statement and accept only one SELECT.

The statement is parsed with sqlglot in the connection's dialect. It passes when it is exactly
one SELECT (optionally WITH ... SELECT, or a UNION/INTERSECT/EXCEPT of SELECTs) with no write
anywhere in its tree (a data-modifying CTE), no ``SELECT ... INTO``, no row locks, and no
function from the denylist (server files, programs, other servers, sleeping, locks, sessions,
sequences). A statement sqlglot cannot parse is refused: what we cannot read we do not run.

The second check is the database's own: the statement runs in a read-only transaction (see
tools/db.py), which also stops a user-defined function that writes.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

# Lower-case names. Prefixes (ending in "*") cover families such as dblink_*, lo_*.
DENIED_FUNCTIONS: frozenset[str] = frozenset(
    {
        # PostgreSQL: server files and large objects
        "pg_read_file", "pg_read_binary_file", "pg_ls_dir", "pg_stat_file", "pg_ls_logdir",
        "pg_ls_waldir", "pg_ls_tmpdir", "pg_ls_archive_statusdir", "pg_file_write",
        "pg_file_rename", "pg_file_unlink", "pg_logdir_ls", "lo_*", "loread", "lowrite",
        # PostgreSQL: other servers, programs, queries hidden in strings
        "dblink*", "postgres_fdw*", "query_to_xml", "query_to_xml_and_xmlschema",
        "query_to_xmlschema", "cursor_to_xml", "cursor_to_xmlschema", "table_to_xml",
        "table_to_xml_and_xmlschema", "schema_to_xml*", "database_to_xml*",
        # PostgreSQL: sleeping, locks, sessions, server state, sequences, notifications
        "pg_sleep", "pg_sleep_for", "pg_sleep_until", "pg_advisory*", "pg_try_advisory*",
        "pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf", "pg_rotate_logfile",
        "pg_promote", "pg_switch_wal", "pg_create_restore_point", "pg_backup_start",
        "pg_backup_stop", "pg_start_backup", "pg_stop_backup", "pg_logical_*",
        "pg_replication_*", "pg_create_*", "pg_drop_*", "set_config", "nextval", "setval",
        "pg_notify", "txid_current", "pg_current_xact_id", "pg_import_system_collations",
        # MySQL
        "load_file", "sleep", "benchmark", "get_lock", "release_lock", "release_all_locks",
        "is_free_lock", "is_used_lock", "master_pos_wait", "source_pos_wait", "sys_exec",
        "sys_eval",
        # SQLite
        "load_extension", "readfile", "writefile", "edit", "fts3_tokenizer", "zeroblob",
    }
)  # fmt: skip

# Any of these anywhere in the tree makes the statement a write, DDL, a lock or a command.
_FORBIDDEN_NODES: tuple[type[exp.Expression], ...] = tuple(
    getattr(exp, name)
    for name in (
        "Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "Command", "Into",
        "Lock", "Copy", "Set", "Pragma", "Attach", "Detach", "Transaction", "Commit",
        "Rollback", "Grant", "Revoke", "Use", "LoadData", "TruncateTable", "Analyze", "Refresh",
        "Cache", "Uncache", "Describe", "Show", "Kill", "Execute", "Export", "Install",
    )
    if hasattr(exp, name)
)  # fmt: skip

_DIALECTS = {"postgresql": "postgres", "postgres": "postgres", "sqlite": "sqlite", "mysql": "mysql"}


class SqlRefused(ValueError):
    """The statement is not a single read-only SELECT the policy allows; the message says why."""


def dialect_for(dsn_or_backend: str) -> str:
    """sqlglot's dialect for a SQLAlchemy DSN (``postgresql+psycopg://...``) or backend name."""
    backend = dsn_or_backend.split(":", 1)[0].split("+", 1)[0].lower()
    if backend not in _DIALECTS:
        raise ValueError(f"unsupported database '{backend}' (PostgreSQL, MySQL or SQLite)")
    return _DIALECTS[backend]


def _function_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    return node.sql_name().lower()


def _denied(name: str, denylist: Iterable[str]) -> bool:
    for entry in denylist:
        entry = entry.lower()
        if entry.endswith("*") and name.startswith(entry[:-1]):
            return True
        if name == entry:
            return True
    return False


def check_select(
    sql: str,
    dialect: str,
    *,
    extra_denied: Iterable[str] = (),
    allowed_tables: Iterable[str] | None = None,
) -> exp.Expression:
    """Return the parsed statement, or raise :class:`SqlRefused` saying why it is refused."""
    if not sql or not sql.strip():
        raise SqlRefused("the statement is empty")
    if "\x00" in sql:
        raise SqlRefused("the statement contains a NUL character")
    try:
        parsed = sqlglot.parse(sql, read=dialect)
    except SqlglotError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SqlRefused(f"the statement cannot be parsed as {dialect} SQL ({first})") from exc
    statements = [s for s in parsed if s is not None and not isinstance(s, exp.Semicolon)]
    if len(statements) != 1:
        raise SqlRefused(f"exactly one statement is allowed, this text holds {len(statements)}")
    statement = statements[0]
    if not isinstance(statement, exp.Select | exp.Union | exp.Intersect | exp.Except):
        kind = type(statement).__name__.upper()
        raise SqlRefused(f"only SELECT (or WITH ... SELECT) is allowed, not {kind}")
    denylist = list(DENIED_FUNCTIONS) + [f.lower() for f in extra_denied]
    cte_names = {cte.alias_or_name.lower() for cte in statement.find_all(exp.CTE)}
    allowed = {t.lower() for t in allowed_tables} if allowed_tables is not None else None
    for node in statement.walk():
        if isinstance(node, _FORBIDDEN_NODES):
            what = {"Into": "SELECT ... INTO", "Lock": "FOR UPDATE/SHARE (row locks)"}.get(
                type(node).__name__, type(node).__name__.upper()
            )
            raise SqlRefused(f"{what} is not allowed: the agent only reads")
        if isinstance(node, exp.Func):
            name = _function_name(node)
            if _denied(name, denylist):
                raise SqlRefused(f"function {name}() is not allowed by the policy")
        if allowed is not None and isinstance(node, exp.Table) and node.name:
            table = node.name.lower()
            if table not in cte_names and table not in allowed:
                raise SqlRefused(f"table '{node.name}' is not in the policy's allowed_tables")
    return statement

"""A data contract's tables mapped onto the customer's own, without DDL.

``policy.yaml`` may give, per table of a workflow's data contract, one SELECT over the
customer's tables::

    contracts:
      warehouse:
        picks: "SELECT id AS pick_id, ... FROM pick_log"

A workflow's query on a mapped table then runs over the mapping as a common table expression:
``SELECT ... FROM picks`` becomes ``WITH phi_contract_picks AS (<mapping>) SELECT ... FROM
phi_contract_picks AS picks``. The CTE has a name of its own so that a mapping may read a
customer table that happens to carry the contract table's name (``orders: SELECT ... FROM
orders``); the alias keeps the workflow's column references working. The whole statement then
goes through the same read-only guard as any other, ``allowed_tables`` included, so a mapping
gives the cloud nothing the policy does not allow.

Everything is built with sqlglot on parsed statements, never by pasting text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from phi_agent.sql_guard import SqlRefused, check_select

CTE_PREFIX = "phi_contract_"


def cte_name(table: str) -> str:
    return f"{CTE_PREFIX}{table}"


def parse_mapping(
    sql: str,
    dialect: str | None,
    *,
    extra_denied: Iterable[str] = (),
    allowed_tables: Iterable[str] | None = None,
) -> exp.Query:
    """The parsed mapping, or :class:`SqlRefused` saying why it cannot be one.

    A mapping is one read-only SELECT (the guard's rules and ``allowed_tables``) with no
    parameters: it is the customer's fixed view of a table, the workflow filters it."""
    # The guard parses in a dialect; without one (a DSN not known yet) sqlglot's own is the
    # closest to standard SQL and is only used for the checks at policy load.
    statement = check_select(
        sql, dialect or "", extra_denied=extra_denied, allowed_tables=allowed_tables
    )
    if next(statement.find_all(exp.Placeholder, exp.Parameter), None) is not None:
        raise SqlRefused("a mapping takes no parameters (:name, ?, %s); the workflow filters it")
    assert isinstance(statement, exp.Query)
    return statement


def output_columns(mapping: exp.Query) -> list[str] | None:
    """The column names the mapping gives, or None when it selects ``*`` (known only by
    running it)."""
    names: list[str] = []
    for projection in mapping.selects:
        if isinstance(projection, exp.Star) or (
            isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)
        ):
            return None
        name = projection.alias_or_name
        if not name:
            return None
        names.append(name.lower())
    return names


def apply_mappings(sql: str, mappings: Mapping[str, str], dialect: str) -> str:
    """``sql`` with every unqualified reference to a mapped table read from its mapping.

    Tables ``sql`` does not read get no CTE. Named parameters (``:name``) are kept as they are,
    for SQLAlchemy to bind. Raises :class:`SqlRefused` if ``sql`` or a mapping cannot be parsed.
    """
    try:
        statement = sqlglot.parse_one(sql, read=dialect)
    except SqlglotError as exc:
        raise SqlRefused(f"the statement cannot be parsed as {dialect} SQL ({exc})") from exc
    if not isinstance(statement, exp.Query):
        raise SqlRefused("only SELECT (or WITH ... SELECT) is allowed")
    wanted = {name.lower(): name for name in mappings}
    # A CTE of the query itself with a contract table's name is the query's own: leave it.
    own_ctes = {cte.alias_or_name.lower() for cte in statement.find_all(exp.CTE)}
    used: list[str] = []
    for table in list(statement.find_all(exp.Table)):
        name = table.name.lower()
        if table.args.get("db") or table.args.get("catalog") or name not in wanted:
            continue
        if name in own_ctes:
            continue
        alias = table.alias
        table.set("this", exp.to_identifier(cte_name(name)))
        if not alias:
            table.set("alias", exp.TableAlias(this=exp.to_identifier(name)))
        if name not in used:
            used.append(name)
    if not used:
        return sql
    ctes = []
    for name in used:
        try:
            body = sqlglot.parse_one(mappings[wanted[name]], read=dialect)
        except SqlglotError as exc:
            raise SqlRefused(f"the mapping of '{name}' cannot be parsed ({exc})") from exc
        cte_alias = exp.TableAlias(this=exp.to_identifier(cte_name(name)))
        ctes.append(exp.CTE(this=body, alias=cte_alias))
    existing = statement.args.get("with_")
    if existing is not None:
        # The mappings come first: the query's own CTEs may read them, never the other way.
        existing.set("expressions", ctes + list(existing.expressions))
    else:
        statement.set("with_", exp.With(expressions=ctes))
    # Named parameters stay in SQLAlchemy's ``:name`` form whatever the dialect prints
    # (PostgreSQL's generator would print ``%(name)s``).
    for placeholder in list(statement.find_all(exp.Placeholder)):
        if placeholder.name:
            placeholder.replace(exp.var(f":{placeholder.name}"))
    return statement.sql(dialect=dialect)

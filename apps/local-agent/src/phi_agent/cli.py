"""``phi-agent``: run the local agent, check its setup, test the policy, write demo data."""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer

from phi_agent import __version__
from phi_agent.audit import AuditLog
from phi_agent.config import (
    DEFAULT_ENV_FILE,
    StartupError,
    load_agent_config,
    load_local_policy,
    load_startup,
    read_key,
)
from phi_agent.registry import ToolError, build_tools

EXIT_BAD_SETUP = 2
EXIT_REFUSED = 3

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)
policy_app = typer.Typer(no_args_is_help=True, help="Ask what the local policy allows.")
app.add_typer(policy_app, name="policy")
contract_app = typer.Typer(
    no_args_is_help=True, help="Check your data against a workflow's data contract."
)
app.add_typer(contract_app, name="contract")

ConfigOpt = Annotated[
    Path, typer.Option("--config", "-c", help="The config downloaded from Phi Agents.")
]
PolicyOpt = Annotated[Path, typer.Option("--policy", "-p", help="Your local policy file.")]
EnvFileOpt = Annotated[
    Path | None,
    typer.Option("--env-file", help=f"File with PHI_AGENT_KEY=... (default: {DEFAULT_ENV_FILE})."),
]


def _fail(message: str, code: int = EXIT_BAD_SETUP) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


@app.command()
def run(
    config: ConfigOpt = Path("phi-agent-config.yaml"),
    policy: PolicyOpt = Path("policy.yaml"),
    env_file: EnvFileOpt = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Connect to Phi Agents and answer tool calls within the local policy until stopped."""
    from phi_agent.worker import Worker

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    if not verbose:
        logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        startup = load_startup(config, policy, env_file or Path(DEFAULT_ENV_FILE))
    except StartupError as exc:
        raise _fail(str(exc)) from None
    audit = AuditLog(startup.policy.audit_path)
    tools = build_tools(startup.policy, audit)
    worker = Worker(
        orchestrator_url=str(startup.config.orchestrator_url),
        key=startup.key,
        agent_id=str(startup.config.agent_id),
        name=startup.policy.name or startup.config.name,
        tools=tools,
        state_dir=startup.policy.state_dir,
        audit=audit,
        max_parallel_calls=startup.policy.max_parallel_calls,
    )
    typer.echo(
        f"phi-agent {__version__}: agent '{startup.config.name}', "
        f"cloud {startup.config.orchestrator_url}, audit log {audit.path}",
        err=True,
    )
    raise typer.Exit(asyncio.run(worker.run()))


def _line(ok: bool, label: str, detail: str) -> None:
    mark = (
        typer.style("ok  ", fg=typer.colors.GREEN)
        if ok
        else typer.style("FAIL", fg=typer.colors.RED)
    )
    typer.echo(f"  {mark} {label}: {detail}")


@app.command()
def check(
    config: ConfigOpt = Path("phi-agent-config.yaml"),
    policy: PolicyOpt = Path("policy.yaml"),
    env_file: EnvFileOpt = None,
) -> None:
    """Validate the config and the policy and try each enabled tool's connection."""
    problems = 0
    typer.echo("Checking phi-agent's setup")
    try:
        agent = load_agent_config(config)
        _line(True, f"config {config}", f"agent '{agent.name}', cloud {agent.orchestrator_url}")
    except StartupError as exc:
        _line(False, f"config {config}", str(exc))
        problems += 1
    try:
        read_key(env_file or Path(DEFAULT_ENV_FILE))
        _line(True, "key", "PHI_AGENT_KEY is set and well-formed")
    except StartupError as exc:
        _line(False, "key", str(exc))
        problems += 1
    try:
        local = load_local_policy(policy)
    except StartupError as exc:
        _line(False, f"policy {policy}", str(exc))
        raise typer.Exit(1) from None
    enabled = local.enabled_tools()
    _line(True, f"policy {policy}", f"tools on: {', '.join(enabled) or 'none'}")
    tools = build_tools(local, AuditLog(local.audit_path))
    for name in enabled:
        for item in tools[name].check():
            _line(item.ok, item.label, item.detail)
            problems += not item.ok
        tools[name].close()
    typer.echo("All good." if not problems else f"{problems} problem(s) found.")
    raise typer.Exit(0 if not problems else 1)


@policy_app.command("test")
def policy_test(
    policy: PolicyOpt = Path("policy.yaml"),
    sql: Annotated[str | None, typer.Option("--sql", help="A statement to check.")] = None,
    path: Annotated[str | None, typer.Option("--path", help="A file path to check.")] = None,
    connection: Annotated[
        str | None, typer.Option("--connection", help="Connection name (default: the policy's).")
    ] = None,
    contract: Annotated[
        str | None,
        typer.Option(
            "--contract",
            help="Read the contract's table names through the policy's mappings, as a "
            "workflow's query would (prints the statement that would run).",
        ),
    ] = None,
) -> None:
    """Say whether the policy allows a statement or a path, without running anything.

    Exit 0: allowed; 3: refused (the reason is printed); 2: the policy itself is invalid.
    """
    from phi_agent.tools.db import DbTool
    from phi_agent.tools.file import resolve_allowed_path

    if (sql is None) == (path is None):
        raise _fail("give exactly one of --sql or --path")
    try:
        local = load_local_policy(policy)
    except StartupError as exc:
        raise _fail(str(exc)) from None
    try:
        if sql is not None:
            if not local.tools.db.enabled:
                raise _refused("the db tool is off in this policy")
            tool = DbTool(local, AuditLog(local.audit_path))
            mapped = tool.mapped_sql(sql, connection, contract)
            name = tool.check_sql(mapped, connection)
            typer.secho(
                f"allowed: one read-only SELECT on connection '{name}'", fg=typer.colors.GREEN
            )
            if mapped != sql:
                typer.echo(f"it would run as: {mapped}")
        else:
            assert path is not None
            if not local.tools.file.enabled:
                raise _refused("the file tool is off in this policy")
            real = resolve_allowed_path(path, local.tools.file)
            typer.secho(f"allowed: {real}", fg=typer.colors.GREEN)
    except ToolError as exc:
        raise _refused(str(exc)) from None


def _refused(reason: str) -> typer.Exit:
    typer.secho(f"refused: {reason}", fg=typer.colors.RED)
    return typer.Exit(EXIT_REFUSED)


@contract_app.command("check")
def contract_check(
    policy: PolicyOpt = Path("policy.yaml"),
    contract: Annotated[
        str | None,
        typer.Option(
            "--contract", help="The data contract (default: every one this version knows)."
        ),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Rows read per table.")] = 200,
) -> None:
    """Read a few rows of each contract table (mapped, view or table) and say per table what
    is fine and what is wrong: columns, types, empty values, timestamp forms.

    Exit 0: every table fine; 1: something is wrong (printed); 2: the policy or the contract
    name is wrong. The result is kept in the state folder for the running agent to report.
    """
    from phi_agent.contract_check import check_contract, save_result
    from phi_agent.tools.db import DbTool
    from phi_agent_config.data_contract import CONTRACTS

    try:
        local = load_local_policy(policy)
    except StartupError as exc:
        raise _fail(str(exc)) from None
    if not local.tools.db.enabled:
        raise _fail(f"{policy}: the db tool is off; contract check reads through it")
    if contract is not None and contract not in CONTRACTS:
        raise _fail(f"--contract: no data contract '{contract}' (known: {', '.join(CONTRACTS)})")
    if local.contracts_connection() is None:
        raise _fail(
            f"{policy}: several db connections and no default_connection; set "
            "tools.db.default_connection to the one holding the warehouse data"
        )
    tool = DbTool(local, AuditLog(local.audit_path))
    results = []
    try:
        for name in [contract] if contract else sorted(CONTRACTS):
            result = check_contract(tool, CONTRACTS[name], limit=limit)
            results.append(result)
            typer.echo(
                f"Contract '{name}' on connection '{result.connection}' "
                f"(up to {limit} rows per table)"
            )
            for table in result.tables:
                source = "mapped in the policy" if table.source == "mapping" else "view or table"
                _line(table.ok, f"{table.table} ({source})", f"{table.rows} rows read")
                for problem in table.problems:
                    typer.echo(f"       wrong: {problem}")
                for note in table.notes:
                    typer.echo(f"       note:  {note}")
            wrong = [t.table for t in result.tables if not t.ok]
            typer.echo(
                f"All {len(result.tables)} tables of '{name}' are fine."
                if not wrong
                else f"{len(wrong)} of {len(result.tables)} tables of '{name}' have problems: "
                + ", ".join(wrong)
            )
    finally:
        tool.close()
    saved = save_result(local.state_dir, results)
    typer.echo(f"(kept in {saved} for the running agent to report)")
    raise typer.Exit(0 if all(r.ok for r in results) else 1)


@app.command("demo-data")
def demo_data(
    directory: Annotated[Path, typer.Argument(help="Folder to write the sample warehouse to.")],
    end_date: Annotated[
        str | None, typer.Option("--end-date", help="Last day (YYYY-MM-DD); default yesterday.")
    ] = None,
    weeks: Annotated[int, typer.Option(min=1, max=26)] = 4,
    seed: int = 20261125,
) -> None:
    """Write a sample warehouse: SQLite in the data contract, CSV/XLSX exports, a policy."""
    from phi_agent.demo import write_demo_data

    try:
        last = date.fromisoformat(end_date) if end_date else date.today() - timedelta(days=1)
    except ValueError:
        raise _fail(f"--end-date: '{end_date}' is not a date (YYYY-MM-DD)") from None
    typer.echo(f"Writing {weeks} weeks of warehouse data ending {last} to {directory} ...")
    paths = write_demo_data(directory, last, weeks=weeks, seed=seed)
    typer.echo(f"  database: {paths['database']}")
    typer.echo(f"  exports:  {paths['exports']}")
    typer.echo(f"  policy:   {paths['policy']}")
    typer.echo(
        f"Try: phi-agent policy test --policy {paths['policy']} --sql 'SELECT count(*) FROM picks'"
    )


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(f"phi-agent {__version__}")


def main() -> None:
    app()

"""A starter ``policy.yaml`` for the agent's local agent, from the tools the agent has.

The policy is the customer's file: which databases (DSN from an environment variable), the
SQL limits, which folders. The cloud never reads it; it only offers this starting point so
the customer does not write one from nothing. It is written as text with comments, since the
comments are most of its worth; the values are those ``phi-agent``'s policy model takes
(tests load it with the real ``phi-agent``).
"""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from phi_platform.db.models import Agent, AgentTool, Tool

# Tools phi-agent has a policy section for, in the order the file lists them.
LOCAL_TOOLS = ("db", "file")


def _quoted(value: str) -> str:
    # JSON strings are YAML strings: any agent name is written safely.
    return json.dumps(value, ensure_ascii=False)


def _db_section() -> list[str]:
    return [
        "  db:",
        "    enabled: true",
        "    default_connection: warehouse",
        "    connections:",
        "      # One entry per database the agent may read; the workflows name it (or use the",
        "      # default). The DSN is read from the environment variable, so no password is in",
        "      # this file, e.g. PHI_WAREHOUSE_DSN=postgresql://phi_readonly:…@db-host/wms",
        "      # (mysql://…, mssql+pyodbc://…, or sqlite:///path/to/file.sqlite work too).",
        "      warehouse:",
        "        dsn_env: PHI_WAREHOUSE_DSN",
        "        statement_timeout_seconds: 30   # a statement running longer is cancelled",
        "        max_rows: 100000                # rows one query may return",
        "        max_result_bytes: 8000000       # the cloud takes at most 8 MB per result",
        "        # allowed_tables: [picks, orders, shipments]   # uncomment to allow only these",
        "    # Every statement is checked locally first: one read-only SELECT, no writes, no DDL,",
        "    # whatever the cloud sends. Test one with:",
        "    #   phi-agent policy test --policy policy.yaml --sql 'SELECT count(*) FROM picks'",
    ]


def _file_section() -> list[str]:
    return [
        "  file:",
        "    enabled: true",
        "    # Folders the agent may list and read (relative paths: from this file's folder).",
        "    roots: [exports]",
        "    extensions: [csv, xlsx, json, txt]",
        "    max_bytes: 50000000     # largest file read",
        "    max_rows: 100000        # rows read from one table file",
        "    max_result_bytes: 8000000",
    ]


def starter_policy(agent_name: str, tool_keys: list[str]) -> str:
    """The starter policy text for an agent with the tools ``tool_keys``."""
    local = [k for k in LOCAL_TOOLS if k in tool_keys]
    lines = [
        f"# Starter policy for phi-agent, made by Phi Agents for the agent {_quoted(agent_name)}.",
        "# This file is yours and stays on your machine: it decides what the local agent may do",
        "# (databases, limits, folders), and the cloud can only ask within it. Edit it, then run",
        "#   phi-agent check --config phi-agent-config.yaml --policy policy.yaml",
        "policy_version: 1",
        f"name: {_quoted(agent_name)}",
        "state_dir: .phi-agent            # outbox and audit log (audit.jsonl)",
        "max_parallel_calls: 2",
    ]
    if not local:
        lines += [
            "# The agent has no tool that runs on the local agent: every tool stays off.",
            "tools: {}",
        ]
    else:
        lines.append("tools:")
        for key in local:
            lines += _db_section() if key == "db" else _file_section()
    return "\n".join(lines) + "\n"


async def starter_policy_for(session: AsyncSession, agent: Agent) -> str:
    keys = (
        await session.scalars(
            select(Tool.key)
            .join(AgentTool, AgentTool.tool_id == Tool.id)
            .where(AgentTool.agent_id == agent.id)
        )
    ).all()
    return starter_policy(agent.name, list(keys))

"""Load ``seed.yaml`` into the catalog tables; re-running updates rows in place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Connection, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.expression import bindparam

SEED_FILE = Path(__file__).with_name("seed.yaml")


def load_seed(path: Path = SEED_FILE) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or "tools" not in data or "industries" not in data:
        raise ValueError(f"{path}: expected top-level 'tools' and 'industries'")
    return data


_UPSERT_TOOL = text(
    """
    INSERT INTO tools (key, name, description, config_schema, default_config, available)
    VALUES (:key, :name, :description, :config_schema, :default_config, :available)
    ON CONFLICT (key) DO UPDATE SET name = EXCLUDED.name, description = EXCLUDED.description,
        config_schema = EXCLUDED.config_schema, default_config = EXCLUDED.default_config,
        available = EXCLUDED.available
    """
).bindparams(bindparam("config_schema", type_=JSONB), bindparam("default_config", type_=JSONB))

_UPSERT_INDUSTRY = text(
    """
    INSERT INTO industries (key, name, description) VALUES (:key, :name, :description)
    ON CONFLICT (key) DO UPDATE SET name = EXCLUDED.name, description = EXCLUDED.description
    RETURNING id
    """
)

_UPSERT_ROLE = text(
    """
    INSERT INTO role_templates
        (industry_id, key, name, description, default_capabilities, default_tools,
         example_tasks)
    VALUES (:industry_id, :key, :name, :description, :default_capabilities, :default_tools,
            :example_tasks)
    ON CONFLICT (industry_id, key) DO UPDATE SET name = EXCLUDED.name,
        description = EXCLUDED.description,
        default_capabilities = EXCLUDED.default_capabilities,
        default_tools = EXCLUDED.default_tools,
        example_tasks = EXCLUDED.example_tasks
    """
).bindparams(
    bindparam("default_capabilities", type_=JSONB),
    bindparam("default_tools", type_=JSONB),
    bindparam("example_tasks", type_=JSONB),
)


def seed_catalog(conn: Connection, data: dict[str, Any] | None = None) -> dict[str, int]:
    """Upsert every tool, industry and role of the seed; returns counts of what it touched."""
    data = data or load_seed()
    tool_keys = set()
    for tool in data["tools"]:
        tool_keys.add(tool["key"])
        conn.execute(
            _UPSERT_TOOL,
            {
                "key": tool["key"],
                "name": tool["name"],
                "description": tool.get("description"),
                "config_schema": tool.get("config_schema") or {"type": "object"},
                "default_config": tool.get("default_config") or {},
                "available": bool(tool.get("available", True)),
            },
        )
    roles = 0
    for industry in data["industries"]:
        industry_id = conn.execute(
            _UPSERT_INDUSTRY,
            {
                "key": industry["key"],
                "name": industry["name"],
                "description": industry.get("description"),
            },
        ).scalar_one()
        for role in industry.get("roles", []):
            unknown = set(role.get("default_tools", [])) - tool_keys
            if unknown:
                raise ValueError(f"role {role['key']} names unknown tools {sorted(unknown)}")
            conn.execute(
                _UPSERT_ROLE,
                {
                    "industry_id": industry_id,
                    "key": role["key"],
                    "name": role["name"],
                    "description": role.get("description"),
                    "default_capabilities": role.get("default_capabilities", []),
                    "default_tools": role.get("default_tools", []),
                    "example_tasks": role.get("example_tasks", []),
                },
            )
            roles += 1
    return {"tools": len(tool_keys), "industries": len(data["industries"]), "roles": roles}

from __future__ import annotations

import httpx
from jsonschema import Draft202012Validator
from sqlalchemy import create_engine, text

from phi_platform.catalog.seed import seed_catalog


def test_industries_and_roles(client: httpx.Client) -> None:
    industries = client.get("/industries").json()
    keys = {i["key"] for i in industries}
    assert "logistics" in keys and len(keys) >= 4
    roles = client.get("/role-templates", params={"industry_key": "logistics"}).json()
    assert {"warehouse_analyst", "ops_manager", "safety_officer"} <= {r["key"] for r in roles}
    for role in roles:
        assert role["industry_key"] == "logistics"
        assert role["description"] and role["default_capabilities"] and role["default_tools"]
        assert 2 <= len(role["example_tasks"]) <= 4
    all_roles = client.get("/role-templates").json()
    assert len(all_roles) >= 3 * len(industries)


def test_unknown_industry_key_is_404(client: httpx.Client) -> None:
    r = client.get("/role-templates", params={"industry_key": "spaceflight"})
    assert r.status_code == 404 and "spaceflight" in r.json()["detail"]


def test_tools_have_valid_schemas_and_availability(client: httpx.Client) -> None:
    tools = {t["key"]: t for t in client.get("/tools").json()}
    assert set(tools) == {"db", "file", "cctv", "email", "browser"}
    assert tools["db"]["available"] and tools["file"]["available"]
    assert not any(tools[k]["available"] for k in ("cctv", "email", "browser"))
    for tool in tools.values():
        Draft202012Validator.check_schema(tool["config_schema"])
        Draft202012Validator(tool["config_schema"]).validate(tool["default_config"])


def test_seeding_again_changes_nothing(database_url: str) -> None:
    engine = create_engine(database_url)
    count_sql = text(
        "SELECT (SELECT count(*) FROM tools), (SELECT count(*) FROM industries), "
        "(SELECT count(*) FROM role_templates), (SELECT array_agg(id ORDER BY id) FROM tools)"
    )
    with engine.begin() as conn:
        before = conn.execute(count_sql).one()
        seed_catalog(conn)
        seed_catalog(conn)
        after = conn.execute(count_sql).one()
    engine.dispose()
    assert before == after

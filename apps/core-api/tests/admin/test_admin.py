"""Admin routes: usage per organization, failures, the flag from PHI_ADMIN_EMAILS or phi-admin."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from typing import Any

import httpx
import psycopg
import pytest
from core_factories import create_agent, create_org, signup


def _pg(url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)


BOSS = f"boss-{uuid.uuid4().hex[:8]}@example.com"


@pytest.fixture(scope="module")
def admin_server(start_server: Any) -> Any:
    return start_server(admin_emails=f"other@example.com,{BOSS}")


def test_org_usage_counts_this_month(admin_server: Any) -> None:
    with httpx.Client(base_url=admin_server.url, timeout=30) as client:
        owner = signup(client)
        org = create_org(client, owner, f"Usage {uuid.uuid4().hex[:6]}")
        agent = create_agent(client, owner, org["id"])
        with _pg(admin_server.settings.database_url) as conn:
            conn.execute(
                "INSERT INTO documents (org_id, agent_id, name, source_type, status, error,"
                " size_bytes, storage_path)"
                " VALUES (%s, %s, 'broken.pdf', 'SOP', 'FAILED', 'not a PDF', 3, 'none')",
                (org["id"], agent["id"]),
            )
            for status, created in (
                ("SUCCESS", "now()"),
                ("FAILED", "now()"),
                ("SUCCESS", "now() - interval '40 days'"),
            ):
                conn.execute(
                    "INSERT INTO tasks (agent_id, org_id, type, status, created_at)"
                    f" VALUES (%s, %s, 'daily_report', %s, {created})",
                    (agent["id"], org["id"], status),
                )
            conn.execute(
                "INSERT INTO llm_calls (org_id, operation, task_class, provider, model,"
                " tokens_in, tokens_out, outcome, cost_usd)"
                " VALUES (%s, 'chat', 'heavy', 'openai', 'gpt', 100, 50, 'ok', 0.25),"
                "        (%s, 'chat', 'heavy', 'openai', 'gpt', 10, 5, 'ok', 0.5)",
                (org["id"], org["id"]),
            )
        assert client.get("/admin/orgs", headers=owner.headers).status_code == 404
        assert client.get("/me", headers=owner.headers).json()["is_platform_admin"] is False
        boss = signup(client, email=BOSS.upper())
        me = client.get("/me", headers=boss.headers).json()
        assert me["is_platform_admin"] is True
        rows = client.get("/admin/orgs", headers=boss.headers, params={"limit": 500}).json()
        row = next(r for r in rows if r["id"] == org["id"])
        assert row["agents"] == 1 and row["members"] == 1
        assert row["documents"] == 1 and row["documents_failed"] == 1
        assert row["tasks_month"] == 2 and row["tasks_failed_month"] == 1
        assert row["llm_calls_month"] == 2 and row["llm_tokens_month"] == 165
        assert row["llm_cost_usd_month"] == pytest.approx(0.75)

        failures = client.get("/admin/failures", headers=boss.headers).json()
        doc = next(d for d in failures["documents"] if d["org_id"] == org["id"])
        assert doc["error"] == "not a PDF" and doc["name"] == "broken.pdf"

        stats = client.get(f"/orgs/{org['id']}/stats", headers=owner.headers).json()
        assert stats == {
            "agents": 1,
            "documents": 1,
            "documents_failed": 1,
            "tasks_today": 2,
            "tasks_failed_today": 1,
        }


def test_phi_admin_grant_and_revoke(live_server: Any) -> None:
    settings = live_server.settings
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "PHI_DATA_DIR": str(settings.data_dir),
    }
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        user = signup(client)
        assert client.get("/admin/orgs", headers=user.headers).status_code == 404

        def phi_admin(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "phi_core_api.admin.cli", *args],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )

        done = phi_admin("grant", user.email.upper())
        assert done.returncode == 0, done.stderr
        assert client.get("/admin/orgs", headers=user.headers).status_code == 200
        assert user.email in phi_admin("list").stdout
        assert phi_admin("revoke", user.email).returncode == 0
        assert client.get("/admin/orgs", headers=user.headers).status_code == 404
        missing = phi_admin("grant", "nobody-here@example.com")
        assert missing.returncode == 1 and "sign up first" in missing.stderr

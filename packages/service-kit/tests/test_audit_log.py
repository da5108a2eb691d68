"""The audit log's guarantees at the database and recorder level: append-only for the
application's role, retention through the purge function only, one INSERT in the caller's
transaction, whitelisted details."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg.rows import dict_row
from sqlalchemy.ext.asyncio import create_async_engine

from phi_service.audit import Actor, AuditDetailRefused, Target, record_event
from phi_service.audit.recorder import clean_details


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(_plain(database_url), autocommit=True) as c:
        yield c


def _insert(conn: psycopg.Connection, org_id: uuid.UUID, age_days: int = 0) -> int:
    row = conn.execute(
        "INSERT INTO audit_events (org_id, actor_type, action, occurred_at) "
        "VALUES (%s, 'user', 'agent.created', now() - make_interval(days => %s)) RETURNING id",
        (org_id, age_days),
    ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET action = 'x' WHERE org_id = %s",
        "DELETE FROM audit_events WHERE org_id = %s",
    ],
)
def test_the_application_role_cannot_change_or_remove_events(
    conn: psycopg.Connection, statement: str
) -> None:
    org_id = uuid.uuid4()
    _insert(conn, org_id)
    # The application connects as the tables' owner (a superuser in the embedded setup):
    # only the trigger can stop it.
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        conn.execute(statement, (org_id,))
    (count,) = conn.execute(
        "SELECT count(*) FROM audit_events WHERE org_id = %s AND action = 'agent.created'",
        (org_id,),
    ).fetchone()  # type: ignore[misc]
    assert count == 1


def test_truncate_is_refused(conn: psycopg.Connection) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="TRUNCATE"):
        conn.execute("TRUNCATE audit_events")


def test_purge_removes_only_rows_older_than_the_retention_in_batches(
    conn: psycopg.Connection,
) -> None:
    org_id = uuid.uuid4()
    old = [_insert(conn, org_id, age_days=40) for _ in range(3)]
    recent = _insert(conn, org_id, age_days=20)
    (first,) = conn.execute("SELECT purge_audit_events(30, 2)").fetchone()  # type: ignore[misc]
    assert first == 2
    (second,) = conn.execute("SELECT purge_audit_events(30, 2)").fetchone()  # type: ignore[misc]
    assert second >= 1  # other tests' old rows may be purged too
    left = [r[0] for r in conn.execute("SELECT id FROM audit_events WHERE org_id = %s", (org_id,))]
    assert left == [recent] and not set(old) & set(left)
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="at least 1"):
        conn.execute("SELECT purge_audit_events(0, 10)")


def test_details_are_whitelisted_per_action() -> None:
    assert clean_details("member.role_changed", {"role": {"from": "MEMBER", "to": "ADMIN"}}) == {
        "role": {"from": "MEMBER", "to": "ADMIN"}
    }
    with pytest.raises(AuditDetailRefused, match="may not carry password"):
        clean_details("member.invited", {"email": "a@b.c", "password": "hunter2"})
    with pytest.raises(AuditDetailRefused, match="unknown audit action"):
        clean_details("agent.exploded", {})
    key = "phia_" + "ab" * 16 + "_" + "x" * 43
    with pytest.raises(AuditDetailRefused, match="credential"):
        clean_details("local_agent_key.created", {"name": key})
    with pytest.raises(AuditDetailRefused, match="credential"):
        clean_details("delivery_destination.created", {"agent_name": "whsec_" + "k" * 43})
    with pytest.raises(AuditDetailRefused, match="plain value"):
        clean_details("agent.created", {"name": {"from": {"nested": "dict"}}})


def test_an_event_is_written_in_the_callers_transaction(database_url: str) -> None:
    org_id = uuid.uuid4()

    async def scenario() -> None:
        engine = create_async_engine(database_url)
        try:
            # Rolled back: the event goes with the change.
            async with engine.connect() as c:
                await record_event(
                    c,
                    org_id,
                    Actor.anonymous(),
                    "org.renamed",
                    Target("organization", org_id),
                    name={"from": "a", "to": "b"},
                )
                await c.rollback()
            async with engine.begin() as c:
                await record_event(
                    c,
                    org_id,
                    Actor.anonymous(),
                    "org.renamed",
                    Target("organization", org_id),
                    name={"from": "a", "to": "c"},
                )
            # A psycopg connection (the workers') takes the same call.
            async with await psycopg.AsyncConnection.connect(
                _plain(database_url), row_factory=dict_row
            ) as pc:
                async with pc.transaction():
                    await record_event(
                        pc,
                        org_id,
                        Actor.schedule(org_id, "daily"),
                        "task.started",
                        Target("task", uuid.uuid4()),
                        workflow="ask",
                        trigger="schedule",
                    )
        finally:
            await engine.dispose()

    asyncio.run(scenario())
    with psycopg.connect(_plain(database_url)) as c:
        rows = c.execute(
            "SELECT action, actor_type, details FROM audit_events WHERE org_id = %s ORDER BY id",
            (org_id,),
        ).fetchall()
    assert rows == [
        ("org.renamed", "anonymous", {"name": {"from": "a", "to": "c"}}),
        ("task.started", "schedule", {"workflow": "ask", "trigger": "schedule"}),
    ]


@pytest.mark.parametrize(
    ("event", "line"),
    [
        (
            {
                "actor_type": "task",
                "actor_id": "0193ab12-0000-7000-8000-000000000000",
                "action": "memory.added",
                "details": {"scope": "agent", "agent_name": "Dock", "source": "task"},
            },
            "task 0193ab12-0000-7000-8000-000000000000 added a memory of an agent on agent Dock",
        ),
        (
            {
                "actor_type": "task",
                "actor_label": "daily warehouse report 0193ab13 of agent Dock, started by its "
                "schedule",
                "action": "memory.changed",
                "details": {"scope": "agent", "report_day": "2026-11-24"},
            },
            "daily warehouse report 0193ab13 of agent Dock, started by its schedule changed a "
            "memory of an agent (the report of 2026-11-24)",
        ),
        (
            {
                "actor_type": "system",
                "action": "approval.expired",
                "target_label": "db_query call of an agent task",
                "details": {"reason": "no decision within 600 seconds", "agent_name": "Dock"},
            },
            "the platform expired db_query call of an agent task (no decision within 600 "
            "seconds) on agent Dock",
        ),
        (
            {
                "actor_type": "user",
                "actor_label": "ana@example.com",
                "action": "delivery_destination.secret_rotated",
                "target_label": "hooks.example.com",
                "details": {"workflow_type": "DAILY_WAREHOUSE_REPORT", "agent_name": "Dock"},
            },
            "ana@example.com rotated the signing secret of the delivery destination "
            "hooks.example.com for DAILY_WAREHOUSE_REPORT on agent Dock",
        ),
    ],
)
def test_events_of_tasks_the_platform_and_deliveries_read_as_a_sentence(
    event: dict[str, object], line: str
) -> None:
    from phi_service.audit import describe

    assert describe(event) == line


def test_tasks_and_the_platform_can_be_actors(conn: psycopg.Connection) -> None:
    org_id = uuid.uuid4()
    for actor_type in ("task", "system"):
        conn.execute(
            "INSERT INTO audit_events (org_id, actor_type, action) VALUES (%s, %s, 'x')",
            (org_id, actor_type),
        )
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            "INSERT INTO audit_events (org_id, actor_type, action) VALUES (%s, 'robot', 'x')",
            (org_id,),
        )

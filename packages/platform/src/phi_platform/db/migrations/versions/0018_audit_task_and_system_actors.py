"""audit log: tasks and the platform itself as actors

Revision ID: 0018
Revises: 0017

Some changes are made by no person: an agent task remembers a fact or starts a report, a
report keeps its day as a memory, an approval nobody decided in time expires. Their events
name the task (``task``: ``actor_id`` is the task's id, the label says which agent and who
started it) or the platform (``system``).
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"

BEFORE = "'user', 'local_agent', 'schedule', 'platform_admin', 'anonymous'"
AFTER = BEFORE + ", 'task', 'system'"


def _check(values: str) -> None:
    op.execute("ALTER TABLE audit_events DROP CONSTRAINT ck_audit_actor_type")
    op.execute(
        "ALTER TABLE audit_events ADD CONSTRAINT ck_audit_actor_type "
        f"CHECK (actor_type IN ({values}))"
    )


def upgrade() -> None:
    _check(AFTER)


def downgrade() -> None:
    # The append-only trigger keeps events of the new actors: the old check cannot be
    # restored over them, so it is added without checking existing rows.
    op.execute("ALTER TABLE audit_events DROP CONSTRAINT ck_audit_actor_type")
    op.execute(
        "ALTER TABLE audit_events ADD CONSTRAINT ck_audit_actor_type "
        f"CHECK (actor_type IN ({BEFORE})) NOT VALID"
    )

"""a task started by an agent task says so in its trigger

Revision ID: 0022
Revises: 0021

A report (or any workflow) that an agent task starts through ``run_workflow`` was stored with
the trigger ``manual``, so the History list showed it as started by a person. Such tasks now
have the trigger ``agent_task``; the ones already stored (they have a ``parent_task_id``) are
relabelled.
"""

from __future__ import annotations

from alembic import op

revision = "0022"
down_revision = "0021"


def upgrade() -> None:
    op.execute("ALTER TABLE tasks DROP CONSTRAINT ck_task_trigger")
    op.execute(
        "ALTER TABLE tasks ADD CONSTRAINT ck_task_trigger "
        "CHECK (trigger IN ('manual', 'schedule', 'agent_task'))"
    )
    op.execute("UPDATE tasks SET trigger = 'agent_task' WHERE parent_task_id IS NOT NULL")


def downgrade() -> None:
    op.execute("UPDATE tasks SET trigger = 'manual' WHERE trigger = 'agent_task'")
    op.execute("ALTER TABLE tasks DROP CONSTRAINT ck_task_trigger")
    op.execute(
        "ALTER TABLE tasks ADD CONSTRAINT ck_task_trigger CHECK (trigger IN ('manual', 'schedule'))"
    )

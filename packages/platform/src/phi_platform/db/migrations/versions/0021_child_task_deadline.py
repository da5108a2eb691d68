"""tasks started by an agent task stop at the time their parent may wait for them

Revision ID: 0021
Revises: 0020

``tasks.deadline_at``: set on a task a ``run_workflow`` call starts (the parent's per-call
time, cut to what is left of the parent's whole-task time). The housekeeping job cancels a
child still unfinished then, saying why, and wakes its parent, which ends with its time limit.
"""

from __future__ import annotations

from alembic import op

revision = "0021"
down_revision = "0020"


def upgrade() -> None:
    op.execute("ALTER TABLE tasks ADD COLUMN deadline_at timestamptz")
    op.execute(
        "CREATE INDEX ix_tasks_deadline ON tasks (deadline_at) WHERE deadline_at IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_tasks_deadline")
    op.execute("ALTER TABLE tasks DROP COLUMN deadline_at")

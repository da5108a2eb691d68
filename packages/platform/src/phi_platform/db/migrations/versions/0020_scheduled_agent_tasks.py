"""scheduled agent tasks: one run per slot and per instruction

Revision ID: 0020
Revises: 0019

An agent may have several scheduled AGENT_TASK entries (each with its own instruction) whose
crons fire at the same minute; a scheduled run is unique per agent, type, slot and
``schedule_key`` (a digest of the instruction; '' for the other types).
"""

from __future__ import annotations

from alembic import op

revision = "0020"
down_revision = "0019"


def upgrade() -> None:
    op.execute("ALTER TABLE tasks ADD COLUMN schedule_key text NOT NULL DEFAULT ''")
    op.execute("DROP INDEX IF EXISTS uq_tasks_schedule_slot")
    op.execute(
        "CREATE UNIQUE INDEX uq_tasks_schedule_slot ON tasks "
        "(agent_id, type, schedule_slot, schedule_key) WHERE schedule_slot IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS uq_tasks_schedule_slot")
    # Keeps one run per slot: the others of a slot lose their slot (they stay as tasks).
    op.execute(
        "UPDATE tasks t SET schedule_slot = NULL WHERE schedule_slot IS NOT NULL AND EXISTS ("
        "SELECT 1 FROM tasks o WHERE o.agent_id = t.agent_id AND o.type = t.type "
        "AND o.schedule_slot = t.schedule_slot AND o.id < t.id)"
    )
    op.execute(
        "CREATE UNIQUE INDEX uq_tasks_schedule_slot ON tasks (agent_id, type, schedule_slot) "
        "WHERE schedule_slot IS NOT NULL"
    )
    op.execute("ALTER TABLE tasks DROP COLUMN schedule_key")

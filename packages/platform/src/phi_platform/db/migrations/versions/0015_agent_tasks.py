"""agent tasks: a status for a task awaiting a person's approval, child tasks started by an
agent task, time limits on tool calls, example instructions per role template

Revision ID: 0015
Revises: 0014

``tasks.status`` gains ``AWAITING_APPROVAL``: an AGENT_TASK stopped before a tool call that
an OWNER or ADMIN must approve (a LangGraph interrupt; no worker is held).

``tasks.parent_task_id``/``parent_step``: a task started by an agent task's ``run_workflow``
tool call. Unique per parent and step, so the call, run again after a worker died, finds the
task it started instead of starting a second one; the parent is advanced when it finishes.

``tool_calls.deadline_at``: the time limit of an agent task's call to its local agent; a call
still open then fails (the housekeeping job), and the task with it.

``role_templates.example_tasks``: instructions a person could give an agent of that role,
offered as suggestions in the web app.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0015"
down_revision = "0014"

OLD = ("PENDING", "RUNNING", "WAITING", "SUCCESS", "FAILED", "CANCELLED")
NEW = ("PENDING", "RUNNING", "WAITING", "AWAITING_APPROVAL", "SUCCESS", "FAILED", "CANCELLED")


def _check(values: tuple[str, ...]) -> str:
    return f"status IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.drop_constraint("ck_task_status", "tasks", type_="check")
    op.create_check_constraint("ck_task_status", "tasks", _check(NEW))
    op.add_column(
        "tasks",
        sa.Column("parent_task_id", sa.UUID(), sa.ForeignKey("tasks.id", ondelete="SET NULL")),
    )
    op.add_column("tasks", sa.Column("parent_step", sa.Text()))
    op.create_index(
        "uq_tasks_parent_step",
        "tasks",
        ["parent_task_id", "parent_step"],
        unique=True,
        postgresql_where=sa.text("parent_task_id IS NOT NULL"),
    )
    op.add_column("tool_calls", sa.Column("deadline_at", sa.DateTime(timezone=True)))
    op.add_column("role_templates", sa.Column("example_tasks", JSONB()))


def downgrade() -> None:
    op.drop_column("role_templates", "example_tasks")
    op.drop_column("tool_calls", "deadline_at")
    op.drop_index("uq_tasks_parent_step", table_name="tasks")
    op.drop_column("tasks", "parent_step")
    op.drop_column("tasks", "parent_task_id")
    op.execute("UPDATE tasks SET status = 'WAITING' WHERE status = 'AWAITING_APPROVAL'")
    op.drop_constraint("ck_task_status", "tasks", type_="check")
    op.create_check_constraint("ck_task_status", "tasks", _check(OLD))

"""deliveries of task results: destinations per agent and workflow, one delivery per task and
destination, and every attempt

Revision ID: 0017
Revises: 0016

``delivery_destinations``: where an agent's results of one workflow type go (``deliver_to``):
an email address, or a webhook URL with its signing secret (kept here in clear because an
HMAC needs it; the API shows it once, at creation) and its payload format (``json`` or
``slack``).

``deliveries``: one row per (task, destination), unique, so a task that succeeds twice after
a crash or two workers queueing it still deliver once. The destination's kind, target and
format are copied in, so the task page keeps saying where it went after a destination is
removed. ``status``: PENDING, DELIVERED, FAILING (an attempt failed, another is due at
``next_attempt_at``), GIVEN_UP.

``delivery_attempts``: every attempt, written before it starts (``outcome`` NULL while it
runs, so an attempt cut off by a dead worker is seen as such by the next one).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"


def upgrade() -> None:
    op.create_table(
        "delivery_destinations",
        sa.Column("id", sa.UUID(), server_default=sa.text("uuidv7()"), primary_key=True),
        sa.Column(
            "org_id",
            sa.UUID(),
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "agent_id", sa.UUID(), sa.ForeignKey("agents.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("workflow_type", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("format", sa.Text(), nullable=False, server_default="json"),
        sa.Column("secret", sa.Text(), nullable=True),
        sa.Column(
            "created_by", sa.UUID(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("kind IN ('email', 'webhook')", name="ck_delivery_destination_kind"),
        sa.CheckConstraint("format IN ('json', 'slack', 'email')", name="ck_delivery_format"),
        sa.UniqueConstraint(
            "agent_id", "workflow_type", "kind", "target", name="uq_delivery_destination"
        ),
    )
    op.create_index("ix_delivery_destinations_org", "delivery_destinations", ["org_id"])
    op.create_table(
        "deliveries",
        sa.Column("id", sa.UUID(), server_default=sa.text("uuidv7()"), primary_key=True),
        sa.Column(
            "org_id",
            sa.UUID(),
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "task_id", sa.UUID(), sa.ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "destination_id",
            sa.UUID(),
            sa.ForeignKey("delivery_destinations.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("format", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False, server_default="PENDING"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('PENDING', 'DELIVERED', 'FAILING', 'GIVEN_UP')", name="ck_delivery_status"
        ),
        # The idempotency key: one delivery per task and destination.
        sa.UniqueConstraint("task_id", "destination_id", name="uq_delivery_task_destination"),
    )
    op.create_index("ix_deliveries_org", "deliveries", ["org_id"])
    op.create_index(
        "ix_deliveries_due",
        "deliveries",
        ["next_attempt_at"],
        postgresql_where=sa.text("status IN ('PENDING', 'FAILING')"),
    )
    op.execute(
        "CREATE TRIGGER trg_deliveries_updated_at BEFORE UPDATE ON deliveries "
        "FOR EACH ROW EXECUTE FUNCTION phi_touch_updated_at()"
    )
    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.UUID(), server_default=sa.text("uuidv7()"), primary_key=True),
        sa.Column(
            "org_id",
            sa.UUID(),
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "delivery_id",
            sa.UUID(),
            sa.ForeignKey("deliveries.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column(
            "started_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "outcome IS NULL OR outcome IN ('delivered', 'failed', 'interrupted')",
            name="ck_delivery_attempt_outcome",
        ),
        sa.UniqueConstraint("delivery_id", "attempt", name="uq_delivery_attempt"),
    )
    op.create_index("ix_delivery_attempts_org", "delivery_attempts", ["org_id"])


def downgrade() -> None:
    op.drop_table("delivery_attempts")
    op.drop_table("deliveries")
    op.drop_table("delivery_destinations")

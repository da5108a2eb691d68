"""stop an organization's model calls once its budget is spent; sign-in history for the
login throttle

Revision ID: 0011
Revises: 0010

``llm_token_usage.stopped_at_budget``: when the month's usage reaches the organization's budget
(a provider answered with more tokens than reserved), the router writes the budget it stopped
at here and refuses every further call of that month until the budget is raised above it.

``login_throttle.last_failed_at``: the account's sign-in delay grows with failures and only
starts over after a quiet window, so the time of the last failure is kept beside the count.

``login_known_addresses``: addresses an account signed in (or signed up) from. A valid password
from one of them skips the account's delay, so failures from elsewhere cannot keep the
rightful user out.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    op.add_column("llm_token_usage", sa.Column("stopped_at_budget", sa.BigInteger(), nullable=True))
    op.add_column(
        "login_throttle", sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_table(
        "login_known_addresses",
        sa.Column(
            "user_id",
            sa.UUID(),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column(
            "last_seen_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("user_id", "address"),
    )
    # Old entries are pruned by age.
    op.create_index("ix_login_known_addresses_last_seen", "login_known_addresses", ["last_seen_at"])


def downgrade() -> None:
    op.drop_index("ix_login_known_addresses_last_seen", table_name="login_known_addresses")
    op.drop_table("login_known_addresses")
    op.drop_column("login_throttle", "last_failed_at")
    op.drop_column("llm_token_usage", "stopped_at_budget")

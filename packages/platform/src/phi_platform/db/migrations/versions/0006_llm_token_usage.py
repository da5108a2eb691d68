"""monthly token usage per organization, reserved before each model call

Revision ID: 0006
Revises: 0005

The budget check used to sum llm_calls and then call the model: 20 concurrent calls all passed
the check and spent 1104 tokens of a 300-token budget. The router now reserves a call's
estimate in this row with one conditional UPDATE (which PostgreSQL serialises per row) and
settles it with the real count afterwards. The current month is filled from the model calls
already recorded (builtin calls, model 'builtin', cost nothing and are left out).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.create_table(
        "llm_token_usage",
        sa.Column(
            "org_id",
            sa.UUID(),
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("month", sa.Date(), primary_key=True),
        sa.Column("used", sa.BigInteger(), nullable=False, server_default="0"),
    )
    op.execute(
        """
        INSERT INTO llm_token_usage (org_id, month, used)
        SELECT org_id, (date_trunc('month', now() AT TIME ZONE 'UTC'))::date,
               sum(tokens_in + tokens_out)
        FROM llm_calls
        WHERE org_id IS NOT NULL AND model <> 'builtin'
          AND created_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
        GROUP BY org_id
        """
    )


def downgrade() -> None:
    op.drop_table("llm_token_usage")

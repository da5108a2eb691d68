"""local agents: the last data contract check they reported

Revision ID: 0014
Revises: 0013

``local_agents.contract_check`` holds the latest ``phi-agent contract check`` result the
local agent sent on its heartbeat (phi_agent_config.contract_report, bounded there): per data
contract, when it ran and which tables were fine or wrong. NULL until the agent reports one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0014"
down_revision = "0013"


def upgrade() -> None:
    op.add_column("local_agents", sa.Column("contract_check", postgresql.JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column("local_agents", "contract_check")

"""organization invitations

Revision ID: 0009
Revises: 0008

Adding someone to an organization creates an invitation that the invitee accepts or declines
from their own account; nobody joins an organization without saying yes. One open invitation
per organization and email (inviting again renews it).
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE organization_invitations (
            id uuid PRIMARY KEY DEFAULT uuidv7(),
            org_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
            email text NOT NULL,
            role text NOT NULL CONSTRAINT ck_org_invitation_role
                CHECK (role IN ('OWNER', 'ADMIN', 'MEMBER')),
            invited_by uuid REFERENCES users(id) ON DELETE SET NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            expires_at timestamptz NOT NULL,
            CONSTRAINT uq_org_invitation_email UNIQUE (org_id, email)
        )
        """
    )
    # The invitee's list: "invitations addressed to my email".
    op.execute("CREATE INDEX ix_org_invitations_email ON organization_invitations (email)")


def downgrade() -> None:
    op.execute("DROP TABLE organization_invitations")

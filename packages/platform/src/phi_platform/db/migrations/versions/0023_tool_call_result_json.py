"""a local agent's result is stored as json text, not parsed into jsonb

Revision ID: 0023
Revises: 0022

``tool_calls.result`` holds what a local agent sent back: for a daily report about 2 MB of
rows. Stored as ``jsonb``, PostgreSQL parsed all of it into its binary form and compressed
that; the callback waited for both, and every read turned it back into text. Nothing queries
inside a result (the orchestrator reads it whole), so ``json`` keeps the text as sent (checked
to be JSON, compressed the same way, about the same size): on the report's result both the
write and a read took about a third less time (docs/benchmarks.md, issue 24). The embedded
PostgreSQL is built without lz4, so pglz stays the compression. The rows already there are
converted; the downgrade converts them back.
"""

from __future__ import annotations

from alembic import op

revision = "0023"
down_revision = "0022"


def upgrade() -> None:
    op.execute("ALTER TABLE tool_calls ALTER COLUMN result TYPE json USING result::json")


def downgrade() -> None:
    op.execute("ALTER TABLE tool_calls ALTER COLUMN result TYPE jsonb USING result::jsonb")

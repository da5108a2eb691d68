"""drop the HNSW index shared by all organizations

Revision ID: 0004
Revises: 0003

Search no longer uses it: small organizations are scanned exactly and large ones get an HNSW
index of their own (see docs/benchmarks.md: with one tenant holding 10% of 1M chunks, the
shared index gave recall@10 0.27-0.38 whatever the settings). Keeping it only cost insert
time and a long build.
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_document_chunks_embedding_hnsw")


def downgrade() -> None:
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_document_chunks_embedding_hnsw ON document_chunks "
        "USING hnsw (embedding vector_cosine_ops)"
    )

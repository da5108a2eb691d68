"""full-text index of a chunk covers its heading path

Revision ID: 0007
Revises: 0006

A chunk's words often do not name its subject: "Drivers may not exceed 56 hours" sits under
"Rules and standards > Weekly limits". The heading path is embedded with the chunk already
(``embedding_text``); the full-text column now indexes it too, so the two rankings that are
fused see the same text. It stays generated from the row (the path is in ``metadata``), so
ingestion and re-embedding need no change.
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"

_WITH_PATH = (
    "to_tsvector('simple'::regconfig, coalesce(metadata->>'heading_path', '') || ' ' || chunk_text)"
)
_TEXT_ONLY = "to_tsvector('simple'::regconfig, chunk_text)"


def _generate(expression: str) -> None:
    op.execute("DROP INDEX IF EXISTS ix_document_chunks_search_text")
    op.execute("ALTER TABLE document_chunks DROP COLUMN IF EXISTS search_text")
    op.execute(
        f"ALTER TABLE document_chunks ADD COLUMN search_text tsvector "
        f"GENERATED ALWAYS AS ({expression}) STORED"
    )
    op.execute(
        "CREATE INDEX ix_document_chunks_search_text ON document_chunks USING gin (search_text)"
    )


def upgrade() -> None:
    _generate(_WITH_PATH)


def downgrade() -> None:
    _generate(_TEXT_ONLY)

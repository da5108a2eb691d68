"""small units of a chunk that search matches on (small-to-big retrieval)

Revision ID: 0008
Revises: 0007

A question about one fact is closest to the sentence or list item that states it, while a
passage of 900 characters averages several facts into one vector. Search matches on units
(a list item, a group of sentences, a few table rows: up to ~300 characters, embedded and
full-text indexed with their chunk's heading path) and returns the enclosing chunk, with the
unit's offsets inside it. Measured in docs/benchmarks.md ("small-to-big").

The vector column takes the type of ``document_chunks.embedding`` (the configured model's
dimension). Documents ingested before this revision have no units: the core-api workers
build them on their own (``phi_core_api.documents.units_backfill``); ``phi-documents reembed``
does too.
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    vector_type = (
        op.get_bind()
        .exec_driver_sql(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'document_chunks'::regclass AND attname = 'embedding'"
        )
        .scalar()
    )
    op.execute(
        f"""
        CREATE TABLE document_units (
            id uuid PRIMARY KEY DEFAULT uuidv7(),
            chunk_id uuid NOT NULL REFERENCES document_chunks(id) ON DELETE CASCADE,
            document_id uuid NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
            org_id uuid NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
            agent_id uuid REFERENCES agents(id) ON DELETE CASCADE,
            unit_index integer NOT NULL,
            char_start integer NOT NULL,
            char_end integer NOT NULL,
            unit_text text NOT NULL,
            heading_path text NOT NULL DEFAULT '',
            embedding {vector_type},
            search_text tsvector GENERATED ALWAYS AS (
                to_tsvector('simple'::regconfig, heading_path || ' ' || unit_text)
            ) STORED
        )
        """
    )
    op.execute("CREATE INDEX ix_document_units_org_id ON document_units (org_id)")
    op.execute("CREATE INDEX ix_document_units_chunk_id ON document_units (chunk_id)")
    op.execute("CREATE INDEX ix_document_units_document_id ON document_units (document_id)")
    op.execute(
        "CREATE INDEX ix_document_units_search_text ON document_units USING gin (search_text)"
    )


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS document_units")

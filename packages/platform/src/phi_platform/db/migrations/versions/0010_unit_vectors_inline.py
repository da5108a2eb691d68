"""keep the units' and passages' vectors inside the table row (storage MAIN)

Revision ID: 0010
Revises: 0009

pgvector's type defaults to EXTERNAL storage, and a unit's row (a 384-d vector of 1.5 kB plus
its text and tsvector) is past PostgreSQL's ~2 kB TOAST threshold, so every vector lived in the
TOAST table: an exact scan of an organization's units read three extra buffers a row to fetch
it (34,000 buffers for 11,000 units) and cost 3-4x the scan with the vectors inline
(docs/benchmarks.md, "search latency with units"). With MAIN the row's text and tsvector go
out of line first, and the vector stays in the row, where both the exact scan and the
distance of HNSW candidates read it. Passages (``document_chunks``) get the same: search reads
the vector of every candidate unit's passage for its hierarchical score (up to 120 a query).

Storage applies to rows written from now on; rows stored before keep their out-of-line
vectors until they are rewritten (``phi-documents reembed`` rewrites every vector).
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"


TABLES = ("document_chunks", "document_units")


def upgrade() -> None:
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN embedding SET STORAGE MAIN")


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN embedding SET STORAGE EXTERNAL")

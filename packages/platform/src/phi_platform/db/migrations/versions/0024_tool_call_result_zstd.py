"""a local agent's result is stored compressed by the orchestrator (zstd), not by PostgreSQL

Revision ID: 0024
Revises: 0023

``tool_calls.result`` was ``json``: PostgreSQL checked the text and compressed it with pglz
(the embedded server has no lz4) while the callback's transaction waited: for a daily report's
2 MB of rows about 30 ms of the write, to 424 kB. The orchestrator now compresses the JSON
text with zstd (level 1: 4.5 ms, 302 kB) before the transaction and stores the bytes as they
are (``bytea``, ``STORAGE EXTERNAL``: PostgreSQL does not try to compress them again); the
worker decompresses it (1.6 ms). The text is the canonical JSON the digest is taken of, so a
result reads back as it was sent. Rows already stored are converted, in batches; the downgrade
turns them back into ``json``.
"""

from __future__ import annotations

import zstandard
from alembic import op
from sqlalchemy import text

revision = "0024"
down_revision = "0023"

_BATCH = 200


def upgrade() -> None:
    op.execute("ALTER TABLE tool_calls ADD COLUMN result_zst bytea")
    op.execute("ALTER TABLE tool_calls ALTER COLUMN result_zst SET STORAGE EXTERNAL")
    conn = op.get_bind()
    pack = zstandard.ZstdCompressor(level=1)
    while True:
        rows = conn.execute(
            text(
                "SELECT id, result::text AS result FROM tool_calls "
                "WHERE result IS NOT NULL AND result_zst IS NULL LIMIT :n"
            ),
            {"n": _BATCH},
        ).all()
        if not rows:
            break
        for row in rows:
            conn.execute(
                text("UPDATE tool_calls SET result_zst = :z WHERE id = :id"),
                {"z": pack.compress(row.result.encode()), "id": row.id},
            )
    op.execute("ALTER TABLE tool_calls DROP COLUMN result")
    op.execute("ALTER TABLE tool_calls RENAME COLUMN result_zst TO result")


def downgrade() -> None:
    op.execute("ALTER TABLE tool_calls ADD COLUMN result_json json")
    conn = op.get_bind()
    unpack = zstandard.ZstdDecompressor()
    while True:
        rows = conn.execute(
            text(
                "SELECT id, result FROM tool_calls "
                "WHERE result IS NOT NULL AND result_json IS NULL LIMIT :n"
            ),
            {"n": _BATCH},
        ).all()
        if not rows:
            break
        for row in rows:
            conn.execute(
                text("UPDATE tool_calls SET result_json = CAST(:j AS json) WHERE id = :id"),
                {"j": unpack.decompress(row.result).decode(), "id": row.id},
            )
    op.execute("ALTER TABLE tool_calls DROP COLUMN result")
    op.execute("ALTER TABLE tool_calls RENAME COLUMN result_json TO result")

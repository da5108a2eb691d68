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

from collections.abc import Callable
from typing import Any

import zstandard
from alembic import op
from sqlalchemy import text

revision = "0024"
down_revision = "0023"

_BATCH = 200


def _convert(select_sql: str, update_sql: str, convert: Callable[[Any], Any]) -> None:
    """Rewrite the rows ``select_sql`` finds (``id``, ``result``) with ``update_sql``
    (``:id``, ``:value``), ``_BATCH`` at a time, until it finds none."""
    conn = op.get_bind()
    while rows := conn.execute(text(select_sql), {"n": _BATCH}).all():
        for row in rows:
            conn.execute(text(update_sql), {"value": convert(row.result), "id": row.id})


def upgrade() -> None:
    op.execute("ALTER TABLE tool_calls ADD COLUMN result_zst bytea")
    op.execute("ALTER TABLE tool_calls ALTER COLUMN result_zst SET STORAGE EXTERNAL")
    pack = zstandard.ZstdCompressor(level=1)
    _convert(
        "SELECT id, result::text AS result FROM tool_calls "
        "WHERE result IS NOT NULL AND result_zst IS NULL LIMIT :n",
        "UPDATE tool_calls SET result_zst = :value WHERE id = :id",
        lambda result: pack.compress(result.encode()),
    )
    op.execute("ALTER TABLE tool_calls DROP COLUMN result")
    op.execute("ALTER TABLE tool_calls RENAME COLUMN result_zst TO result")


def downgrade() -> None:
    op.execute("ALTER TABLE tool_calls ADD COLUMN result_json json")
    unpack = zstandard.ZstdDecompressor()
    _convert(
        "SELECT id, result FROM tool_calls "
        "WHERE result IS NOT NULL AND result_json IS NULL LIMIT :n",
        "UPDATE tool_calls SET result_json = CAST(:value AS json) WHERE id = :id",
        lambda result: unpack.decompress(result).decode(),
    )
    op.execute("ALTER TABLE tool_calls DROP COLUMN result")
    op.execute("ALTER TABLE tool_calls RENAME COLUMN result_json TO result")

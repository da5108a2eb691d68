"""webhook signing secrets encrypted at rest

Revision ID: 0019
Revises: 0018

``delivery_destinations.secret`` (in clear) becomes ``secret_encrypted``: the secret
encrypted with ``PHI_SECRETS_KEY`` (``phi_platform.secret_box``). Existing secrets are
encrypted here, so receivers keep their secrets; the key is needed only when there are some
(``phi-db migrate`` then reads it like the services: environment, ``_FILE``, or the one
generated into the data dir on a single host). The downgrade decrypts them again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import context, op

revision = "0019"
down_revision = "0018"


def _secret_box() -> Any:
    """The box ``phi-db migrate`` passes (its settings'), else one from the environment."""
    given: Callable[[], Any] | None = context.config.attributes.get("secret_box")
    if given is not None:
        return given()
    from phi_platform.settings import PlatformSettings

    return PlatformSettings().secret_box


def _convert(source: str, target: str, change: Callable[[Any, str], str]) -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(f"SELECT id, {source} FROM delivery_destinations WHERE {source} IS NOT NULL")
    ).all()
    if not rows:
        return
    try:
        box = _secret_box()
    except Exception as exc:  # noqa: BLE001 - named for the operator, with the cause
        raise RuntimeError(
            f"{len(rows)} webhook secret(s) must be re-encoded and PHI_SECRETS_KEY cannot be "
            f"used ({exc}); run the migration with the key the orchestrators use"
        ) from exc
    for row_id, value in rows:
        conn.execute(
            sa.text(f"UPDATE delivery_destinations SET {target} = :value WHERE id = :id"),
            {"value": change(box, value), "id": row_id},
        )


def upgrade() -> None:
    op.add_column("delivery_destinations", sa.Column("secret_encrypted", sa.Text(), nullable=True))
    _convert("secret", "secret_encrypted", lambda box, value: box.seal(value))
    op.drop_column("delivery_destinations", "secret")


def downgrade() -> None:
    op.add_column("delivery_destinations", sa.Column("secret", sa.Text(), nullable=True))
    _convert("secret_encrypted", "secret", lambda box, value: box.open(value))
    op.drop_column("delivery_destinations", "secret_encrypted")

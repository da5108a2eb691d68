"""Background jobs of the auth domain: forgetting old sign-in records."""

from __future__ import annotations

import logging
from typing import Any

import procrastinate

from phi_core_api.settings import CoreApiSettings
from phi_service.jobs import context_value

logger = logging.getLogger(__name__)


async def prune_sign_in_records(conn: Any, settings: CoreApiSettings) -> tuple[int, int]:
    """Delete throttle counters that no longer hold anything back (their window passed and
    they are not locked; a new failure would start them over anyway) and known addresses
    older than PHI_LOGIN_KNOWN_ADDRESS_DAYS. Failures sent from ever new (or forged)
    addresses would otherwise grow ``login_throttle`` without end. Returns the rows deleted
    from each table. ``conn`` is a psycopg async connection."""
    window = max(
        settings.login_failure_window_seconds,
        settings.login_lockout_seconds,
        settings.signup_existing_window_seconds,
    )
    counters = await conn.execute(
        "DELETE FROM login_throttle "
        "WHERE greatest(window_started_at, coalesce(last_failed_at, window_started_at)) "
        "< now() - make_interval(secs => %s) "
        "AND (locked_until IS NULL OR locked_until < now())",
        (window,),
    )
    addresses = await conn.execute(
        "DELETE FROM login_known_addresses WHERE last_seen_at < now() - make_interval(days => %s)",
        (settings.login_known_address_days,),
    )
    return counters.rowcount, addresses.rowcount


async def prune_sign_in_records_task(context: procrastinate.JobContext, timestamp: int) -> None:
    settings = context_value(context, "settings")
    async with context.app.connector.pool.connection() as conn:  # type: ignore[attr-defined]
        counters, addresses = await prune_sign_in_records(conn, settings)
    if counters or addresses:
        logger.info(
            "pruned %d sign-in throttle counters and %d known addresses", counters, addresses
        )


def make_blueprint() -> procrastinate.Blueprint:
    """A fresh blueprint with this domain's tasks (see documents.tasks for why fresh)."""
    blueprint = procrastinate.Blueprint()
    # Hourly, at a minute of its own.
    blueprint.periodic(cron="41 * * * *")(
        blueprint.task(
            name="prune_sign_in_records",
            queueing_lock="prune_sign_in_records",
            pass_context=True,
        )(prune_sign_in_records_task)
    )
    return blueprint

"""Baseline for bench/agents_list.py: the agents listing as a bare ASGI handler.

No framework routing, no auth, no validation: one psycopg pool, the same SQL as the core
API's listing, JSON out. It is what the endpoint would cost with nothing but the query.

As issue 24 measured it, each request runs in a transaction and encodes with the standard
library's json (a third of its CPU). With ``BENCH_BARE_TUNED=1`` it does what the core API's
listing does since: one autocommit statement and orjson; the lower bound for our code.
"""

from __future__ import annotations

import json
import os
import uuid

import orjson
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from phi_core_api.agents.service import LIST_AGENTS_SQL as SQL

PARAMS = {
    "org_id": uuid.UUID(os.environ["BENCH_ORG_ID"]),
    "user_id": uuid.UUID(os.environ["BENCH_USER_ID"]),
    "limit": 100,
    "offset": 0,
}
TUNED = os.environ.get("BENCH_BARE_TUNED") == "1"
pool = AsyncConnectionPool(
    os.environ["BENCH_DB_URL"],
    min_size=10,
    max_size=10,
    open=False,
    kwargs={"autocommit": TUNED},
)


def _default(value: object) -> str:
    return str(value) if not hasattr(value, "isoformat") else value.isoformat()  # type: ignore[attr-defined]


async def app(scope, receive, send):  # type: ignore[no-untyped-def]
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await pool.open()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return
    async with pool.connection() as conn:
        cur = await conn.cursor(row_factory=dict_row).execute(SQL, PARAMS)
        rows = [r for r in await cur.fetchall() if r["id"] is not None]
    if TUNED:
        body = orjson.dumps(rows, option=orjson.OPT_UTC_Z)
    else:
        body = json.dumps(rows, default=_default).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})

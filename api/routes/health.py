"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from litestar import get
from litestar.datastructures import State

from api.errors import ServiceUnavailable
from schemas.health import Health


@get("/healthz", tags=["health"], include_in_schema=True)
async def healthz() -> Health:
    """The process is alive."""
    return Health(status="ok")


@get("/readyz", tags=["health"], opt={"problems": (503,)})
async def readyz(state: State) -> Health:
    """The database answers; 503 with Retry-After otherwise."""
    pool: Any = state.pool
    try:
        async with pool.acquire(timeout=2) as conn:
            await conn.fetchval("SELECT 1")
    except Exception:
        raise ServiceUnavailable(
            "The database does not answer.", headers={"Retry-After": "2"}
        ) from None
    return Health(status="ok")

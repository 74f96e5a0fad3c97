"""Liveness and readiness probes, and the published contract."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Controller, Request, get
from litestar.datastructures import State

from api.errors import ServiceUnavailable
from schemas.health import Health


# A controller, not module-level handlers: Litestar caches app-level hooks on a handler
# object, so a handler shared by two apps (tests build many) would keep the first app's.
class HealthController(Controller):
    tags = ["health"]

    @get("/healthz")
    async def healthz(self) -> Health:
        """The process is alive."""
        return Health(status="ok")

    @get("/readyz", opt={"problems": (503,)})
    async def readyz(self, state: State) -> Health:
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

    @get(
        "/v1/openapi.json",
        include_in_schema=False,
        media_type="application/vnd.oai.openapi+json",
    )
    async def openapi_json(self, request: Request[Any, Any, Any]) -> bytes:
        """The published contract (the same document as openapi.yaml)."""
        app = request.app
        cached: bytes | None = app.state.get("openapi_json")
        if cached is None:
            cached = msgspec.json.encode(app.openapi_schema.to_schema())
            app.state.openapi_json = cached
        return cached

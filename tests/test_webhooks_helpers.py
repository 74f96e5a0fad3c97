"""A small HTTP server on 127.0.0.1 for webhook receivers and partner feeds in tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from api.app import create_app
from api.config import Settings
from api.crypto import Keyring
from api.services import webhook_delivery, webhook_fanout
from api.services.ssrf import OutboundPolicy
from tests.conftest import SharedConnection, settings_for


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    #: seconds to wait before answering (a slow or hanging receiver)
    delay: float = 0.0


Handler = Callable[[Received], Reply | Awaitable[Reply]]


class LoopbackServer:
    """Answers each request with `handler(request)` and records every request it got."""

    def __init__(self, handler: Handler | None = None) -> None:
        self.handler: Handler = handler or (lambda _: Reply())
        self.received: list[Received] = []
        self.arrived = asyncio.Event()
        self._server: asyncio.AbstractServer | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> LoopbackServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            request = Received(method, path, headers, body)
            self.received.append(request)
            self.arrived.set()
            reply = self.handler(request)
            if not isinstance(reply, Reply):
                reply = await reply
            if reply.delay:
                await asyncio.sleep(reply.delay)
            status_line = f"HTTP/1.1 {reply.status} X\r\n"
            head_out = {"content-length": str(len(reply.body)), "connection": "close"}
            head_out.update(reply.headers)
            writer.write(
                (
                    status_line + "".join(f"{k}: {v}\r\n" for k, v in head_out.items()) + "\r\n"
                ).encode()
                + reply.body
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()


# ------------------------------------------------------------------ fixtures and worker rounds


#: retries at once, no jitter, short timeouts: tests never wait for a schedule
FAST = webhook_delivery.DeliveryPolicy(schedule=(0.0,) * 9, jitter=0.0, timeout_s=2.0)
LOOPBACK = OutboundPolicy(allow_loopback=True)


def loopback_settings(settings: Settings) -> Settings:
    """Settings that let webhooks and imports reach http://127.0.0.1 (tests only)."""
    assert settings.database_url
    return settings_for(settings.database_url, CARAVAN_OUTBOUND_ALLOW_LOOPBACK="1")


@contextlib.asynccontextmanager
async def loopback_client(settings: Settings, conn: Any) -> AsyncIterator[httpx.AsyncClient]:
    """Like the `client` fixture, on an app with these (loopback-allowing) settings."""
    app = create_app(settings, pool=SharedConnection(conn))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        yield http


async def worker_round(
    conn: Any, settings: Settings, policy: webhook_delivery.DeliveryPolicy = FAST
) -> int:
    """What `caravan worker` does for webhooks in one round: fan out, then deliver."""
    await webhook_fanout.fan_out(conn, settings.public_url)
    return await webhook_delivery.deliver_due(conn, Keyring(settings.secret_key), LOOPBACK, policy)


async def register_endpoint(
    client: httpx.AsyncClient,
    org: dict[str, Any],
    by: Any,
    url: str,
    types: list[str] | None = None,
) -> dict[str, Any]:
    response = await client.post(
        f"/v1/orgs/{org['slug']}/webhooks",
        json={
            "url": url,
            "event_types": types
            or [
                "event.created",
                "event.updated",
                "event.cancelled",
                "event.deleted",
                "rsvp.counts_changed",
            ],
        },
        headers=by.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]

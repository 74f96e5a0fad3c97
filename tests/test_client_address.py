"""Which client a request counts against: the connection's peer, or, only behind a proxy named
in CARAVAN_TRUSTED_PROXIES, the rightmost forwarded hop that is not itself a trusted proxy. An
IPv6 client counts as its /64. The address is never stored nor logged."""

from __future__ import annotations

import argparse
import logging
import signal

import pytest
import uvicorn

from api import cli
from api.config import ConfigError
from tests.conftest import settings_for
from tests.problems import assert_problem
from tests.test_rate_limits import limited

PROXY = "10.0.0.5"
ALICE = "198.51.100.10"
BOB = "198.51.100.20"


async def _sign_up(http, n: int, headers: dict[str, str] | None = None):
    return await http.post(
        "/v1/accounts",
        json={"email": f"p{n}@example.org", "display_name": "P", "password": "x" * 16},
        headers=headers or {},
    )


def _asked(response) -> bool:
    if response.status_code == 428:
        assert_problem(response, 428, "challenge-required")
        return True
    assert response.status_code == 201, response.text
    return False


async def test_forwarded_headers_from_an_untrusted_peer_are_ignored(conn, database_url):
    async with limited(conn, database_url, CARAVAN_RATE_SIGNUP="1/3600") as world:
        peer = world.at(ALICE)
        assert not _asked(await _sign_up(peer, 1, {"X-Forwarded-For": "192.0.2.1"}))
        # a client that invents another address is still the same client
        assert _asked(await _sign_up(peer, 2, {"X-Forwarded-For": "192.0.2.2"}))
        assert _asked(await _sign_up(peer, 3, {"Forwarded": "for=192.0.2.3"}))


async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit(conn, database_url):
    async with limited(
        conn, database_url, CARAVAN_RATE_SIGNUP="1/3600", CARAVAN_TRUSTED_PROXIES="10.0.0.0/8"
    ) as world:
        proxy = world.at(PROXY)
        assert not _asked(await _sign_up(proxy, 1, {"X-Forwarded-For": ALICE}))
        assert not _asked(await _sign_up(proxy, 2, {"X-Forwarded-For": BOB}))
        assert _asked(await _sign_up(proxy, 3, {"X-Forwarded-For": ALICE}))
        # a hop the client wrote itself (left of what the proxy saw) changes nothing
        assert _asked(await _sign_up(proxy, 4, {"X-Forwarded-For": f"192.0.2.99, {ALICE}"}))
        # through two trusted proxies, the client is the first untrusted hop from the right
        assert _asked(await _sign_up(proxy, 5, {"X-Forwarded-For": f"{BOB}, 10.1.2.3"}))
        # the standard Forwarded header names clients too
        assert _asked(await _sign_up(proxy, 6, {"Forwarded": f'for="{BOB}:4711";proto=https'}))
        assert not _asked(await _sign_up(proxy, 7, {"Forwarded": "for=192.0.2.7"}))
        # a client is its address, whether it comes through the proxy or not
        assert _asked(await _sign_up(world.at(ALICE), 8))


async def test_an_ipv6_client_counts_as_its_slash_64(conn, database_url):
    async with limited(
        conn, database_url, CARAVAN_RATE_SIGNUP="1/3600", CARAVAN_TRUSTED_PROXIES="10.0.0.5"
    ) as world:
        proxy = world.at(PROXY)
        same_64 = ('for="[2001:db8:cafe:1::17]:4711"', 'for="[2001:db8:cafe:1:ffff::9]"')
        assert not _asked(await _sign_up(proxy, 1, {"Forwarded": same_64[0]}))
        assert _asked(await _sign_up(proxy, 2, {"Forwarded": same_64[1]}))
        other_64 = 'for="[2001:db8:cafe:2::17]"'
        assert not _asked(await _sign_up(proxy, 3, {"Forwarded": other_64}))
        # directly connected IPv6 peers too
        assert not _asked(await _sign_up(world.at("2001:db8:beef:7::1"), 4))
        assert _asked(await _sign_up(world.at("2001:db8:beef:7::2"), 5))


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


async def test_the_client_address_is_not_logged(conn, database_url):
    lines = Lines()
    async with limited(
        conn, database_url, CARAVAN_RATE_SIGNUP="1/3600", CARAVAN_TRUSTED_PROXIES="10.0.0.0/8"
    ) as world:
        # (after the app is built: building it configures logging afresh)
        caravan = logging.getLogger("caravan")
        caravan.addHandler(lines)
        level = caravan.level
        caravan.setLevel(logging.DEBUG)
        try:
            proxy = world.at(PROXY)
            for n in range(3):
                await _sign_up(proxy, n, {"X-Forwarded-For": "203.0.113.77"})
        finally:
            caravan.removeHandler(lines)
            caravan.setLevel(level)
    logged = "\n".join(lines.lines)
    assert logged.count('"route":"/v1/accounts"') == 3  # each request logged, not its client
    assert "203.0.113.77" not in logged
    rows = await conn.fetch("SELECT bucket FROM rate_limits")
    assert rows and all(b"203.0.113.77" not in row["bucket"] for row in rows)


def test_trusted_proxies_are_addresses_or_cidrs(database_url):
    settings = settings_for(database_url, CARAVAN_TRUSTED_PROXIES="10.0.0.0/8, 127.0.0.1,::1")
    assert settings.trusted_proxies == ("10.0.0.0/8", "127.0.0.1/32", "::1/128")
    assert settings_for(database_url).trusted_proxies == ()
    with pytest.raises(ConfigError, match="CARAVAN_TRUSTED_PROXIES"):
        settings_for(database_url, CARAVAN_TRUSTED_PROXIES="10.0.0.0/8,proxy.internal")


def test_caravan_serve_leaves_forwarded_headers_to_the_app(monkeypatch, database_url, capsys):
    seen: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: seen.update(kwargs))
    monkeypatch.setattr(signal, "signal", lambda *args: None)
    monkeypatch.setenv("CARAVAN_MODE", "test")
    monkeypatch.setenv("DATABASE_URL", database_url)
    args = argparse.Namespace(migrate=False, demo=False, host="127.0.0.1", port=8000, workers=1)
    assert cli.cmd_serve(args) == 0
    # uvicorn would otherwise rewrite the client from X-Forwarded-For on its own terms
    assert seen["proxy_headers"] is False
    assert seen["access_log"] is False

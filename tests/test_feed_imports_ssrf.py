"""The outbound guard: every forbidden address class is refused before any connection opens.

The resolver is a stub and the network a recorder: no test sends a packet anywhere.
"""

from __future__ import annotations

import httpx
import pytest

from api.services.ssrf import BlockedTarget, OutboundPolicy, guarded_client


class Recorder(httpx.AsyncBaseTransport):
    """Stands in for the network: records what would have been sent, answers 200."""

    def __init__(self) -> None:
        self.sent: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        return httpx.Response(200, content=b"BEGIN:VCALENDAR")


class StubResolver:
    """Answers each lookup with the next list of addresses, and counts lookups."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.lookups: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


async def _get(url: str, resolver: StubResolver, recorder: Recorder, **policy) -> httpx.Response:
    client = guarded_client(
        OutboundPolicy(resolver=resolver, **policy), timeout=httpx.Timeout(1.0), inner=recorder
    )
    async with client:
        return await client.get(url)


FORBIDDEN = {
    "loopback": "127.0.0.1",
    "loopback (v6)": "::1",
    "private 10/8": "10.1.2.3",
    "private 172.16/12": "172.16.5.4",
    "private 192.168/16": "192.168.1.10",
    "link-local": "169.254.10.20",
    "cloud metadata": "169.254.169.254",
    "CGNAT": "100.64.0.1",
    "unspecified": "0.0.0.0",
    "unspecified (v6)": "::",
    "multicast": "224.0.0.251",
    "multicast (v6)": "ff02::1",
    "reserved": "240.0.0.1",
    "broadcast": "255.255.255.255",
    "IPv4-mapped IPv6": "::ffff:127.0.0.1",
    "IPv4-mapped public": "::ffff:93.184.216.34",
    "NAT64": "64:ff9b::a00:1",
    "6to4": "2002:a00:1::1",
    "unique local (v6)": "fc00::1",
    "link-local (v6)": "fe80::1",
    "documentation": "192.0.2.10",
}


@pytest.mark.parametrize("address", FORBIDDEN.values(), ids=FORBIDDEN.keys())
async def test_a_name_resolving_to_a_forbidden_address_is_refused_before_connecting(address):
    resolver, recorder = StubResolver([address]), Recorder()
    with pytest.raises(BlockedTarget):
        await _get("https://calendar.partner.example/events.ics", resolver, recorder)
    assert recorder.sent == []


async def test_one_forbidden_address_among_public_ones_is_enough_to_refuse():
    resolver, recorder = StubResolver(["93.184.216.34", "10.0.0.8"]), Recorder()
    with pytest.raises(BlockedTarget, match="private"):
        await _get("https://calendar.partner.example/events.ics", resolver, recorder)
    assert recorder.sent == []


@pytest.mark.parametrize(
    "url",
    [
        "http://calendar.partner.example/events.ics",
        "https://127.0.0.1/events.ics",
        "https://[::1]/events.ics",
        "https://0.0.0.0/events.ics",
        "https://2130706433/events.ics",
        "https://0x7f.1/events.ics",
        "https://017700000001/events.ics",
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.1/events.ics",
        "https://100.64.0.1/events.ics",
        "https://[::ffff:127.0.0.1]/events.ics",
        "https://[fe80::1]/events.ics",
        "https://[fc00::1]/events.ics",
        "https://calendar.partner.example:8443/events.ics",
        "https://user:secret@calendar.partner.example/events.ics",
        "file:///etc/passwd",
        "gopher://calendar.partner.example/",
        "ftp://calendar.partner.example/events.ics",
    ],
)
async def test_forbidden_urls_are_refused_without_a_lookup(url):
    resolver, recorder = StubResolver(["93.184.216.34"]), Recorder()
    with pytest.raises(BlockedTarget):
        await _get(url, resolver, recorder)
    assert recorder.sent == [] and resolver.lookups == []


async def test_the_checked_address_is_the_one_connected_to():
    # a rebinding resolver: public first, loopback on any later lookup
    resolver = StubResolver(["93.184.216.34"], ["127.0.0.1"])
    recorder = Recorder()
    response = await _get("https://calendar.partner.example/events.ics?x=1", resolver, recorder)
    assert response.status_code == 200
    (sent,) = recorder.sent
    assert sent.url.host == "93.184.216.34" and sent.url.scheme == "https"
    assert sent.url.path == "/events.ics" and sent.url.query == b"x=1"
    assert sent.headers["host"] == "calendar.partner.example"
    assert sent.extensions["sni_hostname"] == "calendar.partner.example"
    assert resolver.lookups == ["calendar.partner.example"]  # one lookup, never a second


async def test_loopback_over_http_needs_the_test_setting_and_stays_loopback_only():
    recorder = Recorder()
    with pytest.raises(BlockedTarget):
        await _get("http://127.0.0.1:8080/x", StubResolver(["127.0.0.1"]), recorder)
    response = await _get(
        "http://127.0.0.1:8080/x", StubResolver(["127.0.0.1"]), recorder, allow_loopback=True
    )
    assert response.status_code == 200
    with pytest.raises(BlockedTarget):  # the test setting opens loopback, nothing else
        await _get(
            "https://calendar.partner.example/x",
            StubResolver(["10.0.0.1"]),
            recorder,
            allow_loopback=True,
        )
    with pytest.raises(BlockedTarget):
        await _get(
            "http://calendar.partner.example:8080/x",
            StubResolver(["93.184.216.34"]),
            recorder,
            allow_loopback=True,
        )
    assert len(recorder.sent) == 1


async def test_clients_never_follow_redirects_or_read_proxy_settings(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://10.0.0.1:3128")
    client = guarded_client(OutboundPolicy(), timeout=httpx.Timeout(1.0))
    async with client:
        assert client.follow_redirects is False
        assert client.trust_env is False

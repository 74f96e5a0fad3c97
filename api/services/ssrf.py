"""The guard on every outbound request (webhooks, calendar imports): no SSRF into our network.

A URL must be https on port 443, without credentials. Its host is resolved once, and the
request is refused when *any* resolved address is loopback, private, link-local (the cloud
metadata address included), CGNAT (100.64/10), unspecified, multicast, reserved, otherwise not
globally routable, or an IPv6 form that embeds an IPv4 address (mapped, NAT64, 6to4, Teredo).
The connection then goes to the address that was checked — the URL is rewritten to it, while the
Host header and TLS SNI keep the name — so a second, different DNS answer cannot be used
(DNS rebinding). Tests swap the resolver for a stub; only an explicit test setting lets plain
http reach loopback addresses (and nothing else).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from api.errors import RuleViolation
from schemas.problems import FieldError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[list[str]]]

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_METADATA = ipaddress.ip_address("169.254.169.254")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LEGACY_IPV4 = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}$", re.IGNORECASE)


class BlockedTarget(Exception):
    """Raised before any connection when a URL, or an address its host resolves to, may not
    be fetched; the message says which rule, never anything fetched."""


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for host (IPv4 and IPv6)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


@dataclass(frozen=True)
class OutboundPolicy:
    """How outbound requests resolve names, and whether tests may reach loopback over http."""

    allow_loopback: bool = False
    resolver: Resolver = field(default=system_resolver)


def forbidden_reason(address: IPAddress, *, allow_loopback: bool = False) -> str | None:
    """Why an address may not be contacted, or None when it is a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return "an IPv4-mapped IPv6 address"
        if address in _NAT64:
            return "a NAT64 address"
        if address.sixtofour is not None or address.teredo is not None:
            return "a 6to4 or Teredo address"
    if address == _METADATA:
        return "the cloud metadata address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return None if allow_loopback else "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return "a shared (CGNAT) address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private:
        return "a private-network address"
    if address.is_reserved:
        return "a reserved address"
    if not address.is_global:
        return "an address that is not globally routable"
    return None


def literal_address(host: str) -> IPAddress | None:
    """The address when the host is an IP literal, including legacy IPv4 forms such as
    `2130706433` or `0x7f.1`, which resolvers would otherwise turn into 127.0.0.1."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    if _LEGACY_IPV4.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            raise BlockedTarget(f"The host {host!r} is not a valid address.") from None
    return None


def check_url(url: str | httpx.URL, policy: OutboundPolicy) -> httpx.URL:
    """Static rules on the URL itself (scheme, credentials, host, port); raises BlockedTarget."""
    try:
        parsed = httpx.URL(str(url))
    except (httpx.InvalidURL, ValueError):
        raise BlockedTarget("The URL cannot be parsed.") from None
    scheme = parsed.scheme
    if scheme not in ("https", "http"):
        raise BlockedTarget(f"Only https URLs are allowed (got {scheme or 'no'} scheme).")
    if not parsed.host:
        raise BlockedTarget("The URL has no host.")
    if parsed.userinfo:
        raise BlockedTarget("The URL may not carry a user name or password.")
    address = literal_address(parsed.host)
    loopback_ok = policy.allow_loopback and (
        parsed.host == "localhost" or (address is not None and address.is_loopback)
    )
    if scheme == "http" and not loopback_ok:
        raise BlockedTarget("Only https URLs are allowed.")
    if parsed.port not in (None, 443) and not loopback_ok:
        raise BlockedTarget("Only the standard https port (443) is allowed.")
    if address is not None:
        reason = forbidden_reason(address, allow_loopback=policy.allow_loopback)
        if reason:
            raise BlockedTarget(f"The URL points to {reason}.")
    return parsed


async def resolve_checked(host: str, port: int, policy: OutboundPolicy) -> str:
    """The address to connect to: every resolved address must be allowed; the first is used."""
    address = literal_address(host)
    if address is not None:
        candidates = [str(address)]
    else:
        try:
            candidates = await policy.resolver(host, port)
        except OSError:
            raise BlockedTarget(f"The host {host!r} does not resolve.") from None
    if not candidates:
        raise BlockedTarget(f"The host {host!r} does not resolve.")
    checked = []
    for candidate in candidates:
        try:
            parsed = ipaddress.ip_address(candidate.split("%")[0])
        except ValueError:
            raise BlockedTarget(f"The host {host!r} resolved to an unusable address.") from None
        reason = forbidden_reason(parsed, allow_loopback=policy.allow_loopback)
        if reason:
            raise BlockedTarget(f"The host {host!r} resolves to {reason}.")
        checked.append(parsed)
    return str(checked[0])


class GuardedTransport(httpx.AsyncBaseTransport):
    """Checks every request (redirect targets included) and connects to the checked address."""

    def __init__(
        self, policy: OutboundPolicy, inner: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._policy = policy
        self._inner = inner or httpx.AsyncHTTPTransport(retries=0)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = check_url(request.url, self._policy)
        host = url.host
        port = url.port or (443 if url.scheme == "https" else 80)
        address = await resolve_checked(host, port, self._policy)
        extensions: dict[str, Any] = dict(request.extensions)
        if url.scheme == "https":
            extensions["sni_hostname"] = host
        headers = request.headers.copy()
        headers["Host"] = url.netloc.decode("ascii")
        pinned = httpx.Request(
            request.method,
            url.copy_with(host=address),
            headers=headers,
            stream=request.stream,
            extensions=extensions,
        )
        return await self._inner.handle_async_request(pinned)

    async def aclose(self) -> None:
        await self._inner.aclose()


def guarded_client(
    policy: OutboundPolicy,
    *,
    timeout: httpx.Timeout,
    inner: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """An httpx client that follows no redirect, ignores proxy/netrc settings from the
    environment, and sends every request through the guard."""
    return httpx.AsyncClient(
        transport=GuardedTransport(policy, inner),
        follow_redirects=False,
        trust_env=False,
        timeout=timeout,
    )


def check_registered_url(url: str, allow_loopback: bool, purpose: str) -> str:
    """Static SSRF rules when a URL is registered (its addresses are checked again at every
    connection); a refused URL is a 422 naming `purpose` ("be imported", "receive webhooks")."""
    try:
        check_url(url, OutboundPolicy(allow_loopback=allow_loopback))
    except BlockedTarget as exc:
        raise RuleViolation(
            f"This URL cannot {purpose}: {exc}",
            errors=[FieldError(pointer="#/url", detail=str(exc))],
        ) from None
    return url

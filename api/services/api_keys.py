"""Partner API keys: issue (owners), authenticate, scope checks and per-key rate limits.

A key is `cvn_key_` + 256 random bits, shown once; only its SHA-256 is stored. A key acts for
its org only, never for a person, and no scope reaches attendee data: partners see public
events and, with `events:counts`, counts by status.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from api.config import Settings
from api.crypto import Keyring, new_token, token_hash
from api.errors import Forbidden, NotFound, RateLimited, RuleViolation, Unauthorized
from api.guards import require_org_role
from api.pagination import decode_cursor, split_page
from db.queries import api_keys as q
from db.queries import orgs, rate_limits
from db.queries.audit import insert_audit_entry
from schemas.partners import ApiKey, ApiKeyCreate, ApiKeyCreated, ApiKeyPage
from schemas.problems import FieldError

KEY_PREFIX = "cvn_key"
SCOPES = ("events:read", "events:counts", "webhooks:manage", "imports:manage")
RATE_WINDOW_S = 60


@dataclass(frozen=True)
class Partner:
    """The org behind an API key, what the key may do, and where it stands in its rate window."""

    key_id: UUID
    org_id: UUID
    org_slug: str
    scopes: frozenset[str]
    limit: int
    remaining: int
    reset_s: int

    def rate_headers(self) -> dict[str, str]:
        return rate_headers(self.limit, self.remaining, self.reset_s)


def rate_headers(limit: int, remaining: int, reset_s: int) -> dict[str, str]:
    return {
        "RateLimit-Limit": str(limit),
        "RateLimit-Remaining": str(max(remaining, 0)),
        "RateLimit-Reset": str(max(reset_s, 0)),
        "RateLimit-Policy": f"{limit};w={RATE_WINDOW_S}",
    }


def is_api_key(token: str) -> bool:
    return token.startswith(KEY_PREFIX + "_")


async def authenticate_key(
    conn: asyncpg.Connection, token: str, settings: Settings, keyring: Keyring
) -> Partner | None:
    """The key's principal, counting this request against the key's window; None when the key
    is unknown or revoked. Over the limit: RateLimited (429) with Retry-After and RateLimit-*.

    Runs before the request's transaction (api/deps.py), each statement committing at once:
    every request is counted, refused and failed ones included, as rate limits usually do."""
    row = await q.select_live_key(conn, token_hash(token))
    if row is None:
        return None
    limit = settings.partner_rate_limit
    window = await rate_limits.hit_bucket(
        conn, keyring.limiter_bucket("api_key", str(row["id"])), RATE_WINDOW_S
    )
    reset = max(int(window["seconds_left"]), 1)
    if window["hits"] > limit:
        raise RateLimited(
            f"This API key made more than {limit} requests in {RATE_WINDOW_S} seconds; "
            f"try again in {reset} seconds.",
            headers={"Retry-After": str(reset), **rate_headers(limit, 0, reset)},
        )
    await q.mark_used_today(conn, row["id"])
    return Partner(
        key_id=row["id"],
        org_id=row["org_id"],
        org_slug=row["org_slug"],
        scopes=frozenset(row["scopes"]),
        limit=limit,
        remaining=limit - window["hits"],
        reset_s=reset,
    )


def require_scope(partner: Partner, scope: str) -> None:
    if scope not in partner.scopes:
        raise Forbidden(f"This API key lacks the {scope} scope.")


async def require_org_access(
    conn: asyncpg.Connection,
    slug: str,
    account_id: UUID | None,
    partner: Partner | None,
    *,
    scope: str,
    role: str = "organizer",
) -> asyncpg.Record:
    """The org, for its organizers (signed in) or for one of its API keys holding `scope`."""
    if partner is None:
        return await require_org_role(conn, slug, account_id, role)
    if partner.org_slug != slug:
        raise Forbidden("This API key belongs to another organization.")
    require_scope(partner, scope)
    org = await orgs.select_org(conn, slug)
    if org is None:  # the key's org was renamed within this request; treat as gone
        raise NotFound(f"No organization has the slug {slug!r}.")
    return org


def _api_key(row: asyncpg.Record) -> ApiKey:
    return ApiKey(
        id=row["id"],
        name=row["name"],
        hint=row["hint"],
        scopes=list(row["scopes"]),
        created_at=row["created_at"],
        last_used_on=row["last_used_on"],
        revoked_at=row["revoked_at"],
    )


def _check_scopes(scopes: list[str]) -> list[str]:
    unique = [s for s in SCOPES if s in scopes]
    if "events:counts" in unique and "events:read" not in unique:
        raise RuleViolation(
            "events:counts adds counts to the events a key reads; add events:read too.",
            errors=[FieldError(pointer="#/scopes", detail="events:counts needs events:read")],
        )
    return unique


async def create_key(
    conn: asyncpg.Connection, slug: str, account_id: UUID | None, data: ApiKeyCreate
) -> ApiKeyCreated:
    """A new key (owners only); the secret is returned once and kept only as a hash."""
    if account_id is None:
        raise Unauthorized("Log in first: send `Authorization: Bearer <token>`.")
    org = await require_org_role(conn, slug, account_id, "owner")
    scopes = _check_scopes(list(data.scopes))
    key = new_token(KEY_PREFIX)
    hint = key[: len(KEY_PREFIX) + 5] + "…"
    row = await q.insert_api_key(
        conn, org["id"], data.name.strip(), token_hash(key), hint, scopes, account_id
    )
    await insert_audit_entry(
        conn, org["id"], account_id, "api_key.created", "api_key", row["id"], {"scopes": scopes}
    )
    return ApiKeyCreated(key=key, api_key=_api_key(row))


async def list_keys(
    conn: asyncpg.Connection, slug: str, account_id: UUID | None, cursor: str | None, limit: int
) -> ApiKeyPage:
    org = await require_org_role(conn, slug, account_id, "owner")
    after = decode_cursor(cursor, tuple[datetime, UUID])
    rows = await q.select_api_keys(conn, org["id"], after, limit + 1)
    page, next_cursor = split_page(rows, limit, lambda r: (r["created_at"], r["id"]))
    return ApiKeyPage(items=[_api_key(r) for r in page], next_cursor=next_cursor)


async def revoke_key(
    conn: asyncpg.Connection, slug: str, account_id: UUID | None, key_id: UUID
) -> ApiKey:
    """Revoke a key at once (owners); its next request gets a 401."""
    org = await require_org_role(conn, slug, account_id, "owner")
    row = await q.revoke_api_key(conn, org["id"], key_id)
    if row is None:
        raise NotFound("This organization has no API key with this id.")
    await insert_audit_entry(conn, org["id"], account_id, "api_key.revoked", "api_key", key_id)
    return _api_key(row)

"""Personal feed tokens: the secret URLs of my personal feed, issued, listed, revoked, rotated."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from api.crypto import new_token, token_hash
from api.errors import Conflict, NotFound
from db.queries import feeds as q
from schemas.feeds import (
    FEED_TOKEN_PREFIX,
    FeedToken,
    FeedTokenCreated,
    FeedTokenList,
    feed_links_for,
)

MAX_TOKENS_PER_ACCOUNT = 20


async def feed_token_account(conn: asyncpg.Connection, token: str) -> UUID | None:
    """The account behind a personal feed token; None for an unknown or revoked one."""
    if not token.startswith(FEED_TOKEN_PREFIX + "_") or len(token) > 100:
        return None
    return await q.select_feed_token_account(conn, token_hash(token))


def personal_feed_url(public_url: str, token: str) -> str:
    return f"{public_url}/v1/feeds/{token}/calendar.ics"


def _token(row: asyncpg.Record) -> FeedToken:
    return FeedToken(id=row["id"], label=row["label"], created_at=row["created_at"])


async def _issue(
    conn: asyncpg.Connection, public_url: str, account_id: UUID, label: str | None
) -> FeedTokenCreated:
    token = new_token(FEED_TOKEN_PREFIX)
    row = await q.insert_feed_token(conn, account_id, token_hash(token), label)
    return FeedTokenCreated(
        id=row["id"],
        label=row["label"],
        created_at=row["created_at"],
        token=token,
        feeds=feed_links_for(personal_feed_url(public_url, token)),
    )


async def create_feed_token(
    conn: asyncpg.Connection, public_url: str, account_id: UUID, label: str | None
) -> FeedTokenCreated:
    """A new secret URL for my personal feed; the token is shown only in this response."""
    if await q.count_feed_tokens(conn, account_id) >= MAX_TOKENS_PER_ACCOUNT:
        raise Conflict(
            f"You have {MAX_TOKENS_PER_ACCOUNT} feed tokens already; revoke one you no longer "
            "use first."
        )
    return await _issue(conn, public_url, account_id, label)


async def list_feed_tokens(conn: asyncpg.Connection, account_id: UUID) -> FeedTokenList:
    return FeedTokenList(items=[_token(r) for r in await q.select_feed_tokens(conn, account_id)])


async def revoke_feed_token(conn: asyncpg.Connection, account_id: UUID, token_id: UUID) -> None:
    """The feed behind this token stops working at once."""
    if await q.delete_feed_token(conn, account_id, token_id) is None:
        raise NotFound("You have no feed token with this id.")


async def rotate_feed_token(
    conn: asyncpg.Connection, public_url: str, account_id: UUID, token_id: UUID
) -> FeedTokenCreated:
    """Revoke the token and issue a new one with the same label."""
    old = await q.delete_feed_token(conn, account_id, token_id)
    if old is None:
        raise NotFound("You have no feed token with this id.")
    return await _issue(conn, public_url, account_id, old["label"])

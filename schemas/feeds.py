"""Calendar feeds: subscribe links, and the personal feed tokens behind a secret URL."""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from typing import Annotated
from urllib.parse import quote
from uuid import UUID

from msgspec import Meta, Struct

FEED_TOKEN_PREFIX = "cvn_feed"

FeedLabel = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=100,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="Your own name for this subscription (e.g. the device)",
        examples=["Phone"],
    ),
]


class FeedLinks(Struct):
    """Where a calendar app subscribes to this feed (all three serve the same calendar)."""

    url: Annotated[
        str,
        Meta(
            description="The feed itself (https): Outlook.com and any client that asks for a URL",
            examples=["https://caravan.example/v1/orgs/frontera-unida/calendar.ics"],
        ),
    ]
    webcal: Annotated[
        str,
        Meta(
            description="The same feed as webcal://: opens the subscribe dialog (Apple, Outlook)",
            examples=["webcal://caravan.example/v1/orgs/frontera-unida/calendar.ics"],
        ),
    ]
    google: Annotated[
        str,
        Meta(
            description="Google Calendar's 'add by URL' page for this feed",
            examples=[
                "https://calendar.google.com/calendar/render?cid="
                "webcal%3A%2F%2Fcaravan.example%2Fv1%2Forgs%2Ffrontera-unida%2Fcalendar.ics"
            ],
        ),
    ]


_PLAIN_PATH = re.compile(r"[A-Za-z0-9_.~/-]*")


@lru_cache(maxsize=64)
def _quoted(text: str) -> str:
    return quote(text, safe="")


def _quote_url(url: str) -> str:
    """quote(url, safe=""), fast for the usual case: a list shows dozens of feed links, and
    their paths (ids, slugs) only need their slashes escaped; the base is quoted once."""
    base, sep, path = url.partition("/v1/")
    if sep and _PLAIN_PATH.fullmatch(path):
        return _quoted(base) + "%2Fv1%2F" + path.replace("/", "%2F")
    return quote(url, safe="")


def feed_links_for(url: str) -> FeedLinks:
    """The three subscribe links of a feed at this absolute URL."""
    scheme, _, rest = url.partition("://")
    webcal = "webcal://" + rest if scheme in ("http", "https") else url
    return FeedLinks(
        url=url,
        webcal=webcal,
        google="https://calendar.google.com/calendar/render?cid=" + _quote_url(webcal),
    )


def feed_links(public_url: str | None, path: str) -> FeedLinks | None:
    """Links for the feed at `path` (starting with /v1/) on the app's public URL
    (CARAVAN_PUBLIC_URL); None when there is none to link to (a view built outside a request)."""
    return None if public_url is None else feed_links_for(public_url + path)


class FeedTokenCreate(Struct, forbid_unknown_fields=True, kw_only=True):
    """A new personal feed token; the label is optional."""

    label: FeedLabel | None = None


class FeedToken(Struct, kw_only=True):
    """A personal feed token as listed: never the secret, which is shown only once."""

    id: Annotated[UUID, Meta(examples=["3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b0c"])]
    label: FeedLabel | None
    created_at: Annotated[datetime, Meta(examples=["2026-12-01T18:00:00Z"])]


class FeedTokenCreated(FeedToken, kw_only=True):
    """A new personal feed token and its subscribe links: the only time the secret is shown."""

    token: Annotated[
        str,
        Meta(
            description="The secret (256 bits); keep it like a password, revoke it if it leaks",
            examples=["cvn_feed_Vb1xQmM2m0a3pY7JmS1s3nq0B3x9oK7qL2w8tD5eR4c"],
        ),
    ]
    feeds: FeedLinks


class FeedTokenList(Struct):
    """Your personal feed tokens, oldest first."""

    items: list[FeedToken]

"""Partner calendar imports: a public iCal URL fetched on a schedule, its events mirrored here."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from msgspec import UNSET, Meta, Struct, UnsetType

from schemas.common import NextCursor

FeedUrl = Annotated[
    str,
    Meta(
        min_length=8,
        max_length=2000,
        pattern=r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\x00-\x1f\x7f-\x9f\ufeff]+$",
        description="The partner's public iCal feed: https, port 443, a public address; not "
        "one of this organization's own Caravan feeds nor a secret (personal) feed link",
        examples=["https://partner.example/events.ics"],
    ),
]
ImportName = Annotated[
    str,
    Meta(max_length=100, pattern=r"^[^\x00-\x1f\x7f]*$", examples=["Union hall calendar"]),
]
IntervalMinutes = Annotated[
    int,
    Meta(ge=5, le=10080, description="Minutes between fetches (5 to a week)", examples=[60]),
]
When = Annotated[datetime, Meta(examples=["2026-12-05T18:00:00Z"])]
Id = Annotated[UUID, Meta(examples=["0f8e2c4a-1b3d-4e5f-8a9b-0c1d2e3f4a5b"])]
RunStatus = Annotated[
    Literal["ok", "not_modified", "error"],
    Meta(description="not_modified: the feed answered 304 to a conditional GET", examples=["ok"]),
]


class FeedImportCreate(Struct, forbid_unknown_fields=True):
    """Register a partner's public calendar; the worker fetches it soon, then on schedule."""

    url: FeedUrl
    name: ImportName = ""
    interval_minutes: IntervalMinutes = 60


class FeedImportPatch(Struct, forbid_unknown_fields=True):
    """Change an import; `active: false` pauses fetching (imported events stay)."""

    url: FeedUrl | UnsetType = UNSET
    name: ImportName | UnsetType = UNSET
    interval_minutes: IntervalMinutes | UnsetType = UNSET
    active: bool | UnsetType = UNSET


class FeedImport(Struct, kw_only=True):
    """A registered calendar import and how its last run went."""

    id: Id
    url: FeedUrl
    name: ImportName
    interval_minutes: IntervalMinutes
    active: bool
    next_fetch_at: When
    last_run_at: When | None
    last_status: Annotated[RunStatus | None, Meta(examples=["ok"])]
    last_error: Annotated[
        str | None, Meta(examples=["The feed is larger than 2 MB; nothing was imported."])
    ]
    created_at: When
    updated_at: When


class FeedImportPage(Struct):
    """The org's calendar imports."""

    items: list[FeedImport]
    next_cursor: NextCursor = None


class FeedImportRun(Struct, kw_only=True):
    """One fetch: what changed, or why nothing did."""

    id: Annotated[int, Meta(examples=[42])]
    started_at: When
    finished_at: When
    status: RunStatus
    added: Annotated[int, Meta(examples=[3])]
    updated: Annotated[int, Meta(examples=[1])]
    removed: Annotated[int, Meta(examples=[0])]
    rejected: Annotated[
        int, Meta(description="Entries left out (no UID, no start, private, …)", examples=[0])
    ]
    skipped: Annotated[
        int,
        Meta(
            description="Entries left out because they are this organization's own events "
            "(its own Caravan feed, or a partner's feed mirroring it back)",
            examples=[0],
        ),
    ]
    shared: Annotated[
        int,
        Meta(
            description="Entries another import of this organization already mirrors and "
            "keeps up to date (the same calendar under another address, or a partner "
            "carrying it)",
            examples=[0],
        ),
    ]
    error: Annotated[str | None, Meta(examples=[None])]
    notice: Annotated[
        str | None,
        Meta(
            description="What the run left out on purpose, in words",
            examples=[None],
        ),
    ]


class FeedImportRunPage(Struct):
    """Runs of an import, newest first."""

    items: list[FeedImportRun]
    next_cursor: NextCursor = None

"""Field types shared by several resources, each with its constraints written once."""

from typing import Annotated

from msgspec import Meta

Email = Annotated[
    str,
    Meta(
        min_length=3,
        max_length=254,
        pattern=r"^[^@\s\x00-\x1f\x7f-\x9f\ufeff]+@[^@\s\x00-\x1f\x7f-\x9f\ufeff]+\.[^@\s\x00-\x1f\x7f-\x9f\ufeff]+$",
        description="An email address (compared case-insensitively)",
        examples=["ana@example.org"],
    ),
]
DisplayName = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=100,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="How others see you; an alias is fine",
        examples=["Ana R."],
    ),
]
Password = Annotated[
    str,
    Meta(
        min_length=10,
        max_length=200,
        description="At least 10 characters",
        examples=["correct horse battery"],
    ),
]
Slug = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=50,
        pattern=r"^[a-z0-9]([a-z0-9-]{0,48}[a-z0-9])?$",
        description="Lower-case letters, digits and dashes; used in URLs",
        examples=["frontera-unida"],
    ),
]
Timezone = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9_+\-/]+$",
        description="An IANA time zone name",
        examples=["America/Tijuana"],
    ),
]
ShortText = Annotated[str, Meta(max_length=200, pattern=r"^[^\x00]*$", examples=["Phone"])]
LongText = Annotated[
    str,
    Meta(max_length=20_000, pattern=r"^[^\x00]*$", examples=["We organize with migrant families."]),
]
Url = Annotated[
    str,
    Meta(
        max_length=2000,
        pattern=r"^https?://[^\s\x00-\x1f\x7f-\x9f\ufeff]+$",
        examples=["https://example.org"],
    ),
]
#: `lat,lon` in decimal degrees within range, e.g. `32.53,-117.04` (for `near=` filters)
NEAR_PATTERN = (
    r"^-?(90(\.0+)?|[1-8]?[0-9](\.[0-9]+)?),"
    r"-?(180(\.0+)?|(1[0-7][0-9]|[1-9]?[0-9])(\.[0-9]+)?)$"
)
NextCursor = Annotated[
    str | None,
    Meta(
        description="Pass as `cursor` to get the next page; null on the last page", examples=[None]
    ),
]

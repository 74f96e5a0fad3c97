"""Field types shared by several resources, each with its constraints written once."""

from typing import Annotated

from msgspec import Meta

#: Each pattern a field may carry, and what it asks for in words: a 400 says "must not contain
#: control characters", never the regular expression. A new pattern brings its phrase, either
#: here or where it is defined, through `phrased` (tests/test_errors.py walks openapi.yaml).
PATTERN_PHRASES: dict[str, str] = {
    r"^[^\x00]*$": "must not contain NUL characters",
    r"^[^\x00]*\S[^\x00]*$": "must not be blank, nor contain NUL characters",
    r"^[^\x00-\x1f\x7f]+$": "must be one line without control characters (line breaks, tabs, NUL)",
    r"^[^\x00-\x1f\x7f]*$": "must be one line without control characters (line breaks, tabs, NUL)",
    r"^[^\x00-\x1f\x7f,]+$": "must be one line without commas or control characters",
    r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f\ufeff][^\x00-\x1f\x7f-\x9f]*$": (
        "must not be blank, and be one line without control characters"
    ),
    r"^[0-9]{6}$": "must be the 6 digits your authenticator app shows",
    r"^[A-Za-z0-9 -]+$": "must contain only letters, digits, spaces and dashes",
    r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$": "must be a language tag such as en or es-MX",
    r"^[0-9]{1,10}(\.[0-9]{1,2})?$": "must be an amount such as 120 or 120.50",
    r"^[A-Z]{3}$": "must be a three-letter currency code such as USD",
    r"^[a-z0-9]([a-z0-9-]{0,48}[a-z0-9])?$": (
        "must be lower-case letters, digits and dashes, neither starting nor ending with a dash"
    ),
    r"^[a-z0-9_-]+$": "must be lower-case letters, digits, underscores and dashes",
    r"^[A-Za-z0-9_+\-/]+$": "must be an IANA time zone name such as America/Tijuana",
    r"^[a-z_]+(\.[a-z_]+)*$": "must be lower-case words joined by dots, such as event.created",
    r"^[!-~]+$": "must be printable ASCII without spaces",
    r"^https?://[^\s\x00-\x1f\x7f-\x9f\ufeff]+$": (
        "must be an http:// or https:// URL without spaces or control characters"
    ),
    r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\x00-\x1f\x7f-\x9f\ufeff]+$": (
        "must be an absolute URL (such as https://example.org/feed.ics) without spaces"
    ),
    r"^[^@\s\x00-\x1f\x7f-\x9f\ufeff]+@[^@\s\x00-\x1f\x7f-\x9f\ufeff]+\.[^@\s\x00-\x1f\x7f-\x9f\ufeff]+$": (
        "must be an email address such as ana@example.org, without spaces"
    ),
    r"^([^@\s\x00-\x1f\x7f-\x9f\ufeff]+@[^@\s\x00-\x1f\x7f-\x9f\ufeff]+\.[^@\s\x00-\x1f\x7f-\x9f\ufeff]+|\+?[0-9][0-9 ().\-]{4,40})$": (
        "must be an email address or a phone number"
    ),
    r"^\+?[0-9][0-9 ().\-]{2,39}$": (
        "must be a phone number: digits, spaces, dots, dashes and brackets, maybe a leading +"
    ),
}


def phrased(pattern: str, phrase: str) -> str:
    """`pattern`, with what it asks for in words (a phrase starting "must …") for 400s."""
    PATTERN_PHRASES.setdefault(pattern, phrase)
    return pattern


def pattern_phrase(pattern: str) -> str | None:
    return PATTERN_PHRASES.get(pattern)


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
NEAR_PATTERN = phrased(
    r"^-?(90(\.0+)?|[1-8]?[0-9](\.[0-9]+)?),"
    r"-?(180(\.0+)?|(1[0-7][0-9]|[1-9]?[0-9])(\.[0-9]+)?)$",
    "must be `lat,lon` in decimal degrees, such as 32.53,-117.04",
)
NextCursor = Annotated[
    str | None,
    Meta(
        description=(
            "Pass as `cursor` to get the next page; null on the last page. An opaque token: "
            "send it back unchanged, never build or parse one"
        ),
        examples=[None],
    ),
]

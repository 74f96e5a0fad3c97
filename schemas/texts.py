"""Texts given in several languages, and the one chosen for the caller."""

from typing import Annotated

from msgspec import Meta, Struct

LanguageTag = Annotated[
    str,
    Meta(
        min_length=2,
        max_length=35,
        pattern=r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$",
        description="A BCP 47 language tag",
        examples=["es"],
    ),
]
Texts = Annotated[
    dict[LanguageTag, Annotated[str, Meta(max_length=20_000, pattern=r"^[^\x00]*$")]],
    Meta(
        description="The same text in several languages, keyed by language tag",
        examples=[{"en": "Vigil for families", "es": "Vigilia por las familias"}],
    ),
]
ShortTexts = Annotated[
    dict[LanguageTag, Annotated[str, Meta(min_length=1, max_length=200, pattern=r"^[^\x00]*$")]],
    Meta(
        min_length=1,
        description="A short text (a title or name) in one or more languages",
        examples=[{"en": "Legal observer", "es": "Observador legal"}],
    ),
]


class Chosen(Struct):
    """Which language was chosen for this caller (from `lang`, then Accept-Language)."""

    lang: Annotated[str, Meta(examples=["es"])]

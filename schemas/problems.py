"""The RFC 9457 problem+json body every error response carries."""

from typing import Annotated

from msgspec import Meta, Struct


class FieldError(Struct, frozen=True):
    """One bad field: where it is (a JSON pointer into the body, or #/query/<name>) and why."""

    pointer: Annotated[str, Meta(description="JSON pointer to the field", examples=["#/ends_at"])]
    detail: Annotated[
        str, Meta(description="What is wrong with it", examples=["must be after starts_at"])
    ]


class Problem(Struct, frozen=True):
    """An error (RFC 9457). `type` and `title` are stable per kind; `detail` is this occurrence."""

    type: Annotated[str, Meta(examples=["https://caravan.example/problems/invalid-request"])]
    title: Annotated[str, Meta(examples=["The request does not match the schema"])]
    status: Annotated[int, Meta(examples=[400])]
    detail: Annotated[str, Meta(examples=["#/capacity: Expected int >= 0"])]
    errors: list[FieldError] = []

"""Health probe bodies."""

from typing import Annotated, Literal

from msgspec import Meta, Struct


class Health(Struct):
    """A probe's answer."""

    status: Annotated[Literal["ok"], Meta(examples=["ok"])]

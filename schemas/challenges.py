"""Challenges a busy network's clients solve instead of being refused."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from msgspec import Meta, Struct


class Challenge(Struct, frozen=True):
    """An ALTCHA (v1) proof-of-work challenge: find the `number` (0 to `maxnumber`) for which the
    SHA-256 of `salt` followed by that number in decimal is `challenge`, then send
    base64(JSON {algorithm, challenge, number, salt, signature}) in the `Caravan-Challenge`
    header. This is ALTCHA's v1 proof-of-work format, so ALTCHA's v1 solvers can do it."""

    algorithm: Annotated[str, Meta(examples=["SHA-256"])]
    challenge: Annotated[str, Meta(description="hex SHA-256 to reach")]
    maxnumber: Annotated[int, Meta(description="the largest number the solver may need to try")]
    salt: Annotated[str, Meta(description="to be hashed before the number; carries its expiry")]
    signature: Annotated[str, Meta(description="the server's signature; send it back unchanged")]
    expires_at: Annotated[datetime, Meta(description="after this the solution is refused")]


class TimeLock(Struct, frozen=True):
    """A signed, single-use token for clients that cannot run JavaScript (a plain HTML form):
    send it back as the `Caravan-Challenge` header once `valid_from` has passed."""

    token: Annotated[str, Meta(description="send it unchanged in the Caravan-Challenge header")]
    valid_from: Annotated[datetime, Meta(description="refused before this time")]
    expires_at: Annotated[datetime, Meta(description="refused after this time")]

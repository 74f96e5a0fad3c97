"""Challenges a client solves when its network has sent many requests in a short time."""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.di import NamedDependency

from api.config import Settings
from api.crypto import Keyring
from api.services import challenges
from schemas.challenges import Challenge, TimeLock

_NO_STORE = {"Cache-Control": "no-store"}


class ChallengeController(Controller):
    tags = ["challenges"]

    @get("/v1/challenges")
    async def get_challenge(
        self, keyring: NamedDependency[Keyring], settings: NamedDependency[Settings]
    ) -> Response[Challenge]:
        """A proof-of-work challenge (ALTCHA); solve it and send the solution in the Caravan-Challenge header."""
        return Response(challenges.issue(settings, keyring), headers=_NO_STORE)

    @get("/v1/challenges/time-lock")
    async def get_time_lock(
        self, keyring: NamedDependency[Keyring], settings: NamedDependency[Settings]
    ) -> Response[TimeLock]:
        """A single-use token for clients without JavaScript, valid in the Caravan-Challenge header after a few seconds."""
        return Response(challenges.issue_time_lock(settings, keyring), headers=_NO_STORE)

"""Proof-of-work (ALTCHA's v1 format) and time-lock challenges, issued and checked here, used once.

A challenge is stateless until it is solved: its signature is a keyed hash, so any API process
can check it. A solved one is remembered by a hash in `spent_challenges` (shared by every
process) until it would have expired, so it cannot be used twice. Nothing about the client is
kept. Other parts reuse `redeem` for whatever a solution guards (a write past a limit, a login
attempt); a page layer can carry the same text in a form field and pass it to `redeem`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from datetime import UTC, datetime
from urllib.parse import parse_qs

import asyncpg
import msgspec

from api.config import Settings
from api.crypto import Keyring
from api.errors import BadRequest, ProblemError
from db.queries import challenges as q
from schemas.challenges import Challenge, TimeLock
from schemas.problems import FieldError

#: the request header that carries a solution or a time-lock token
HEADER = "Caravan-Challenge"
ALGORITHM = "SHA-256"
TIME_LOCK_PREFIX = "tl1"
#: a solution is a few hundred bytes; anything longer is refused before decoding
MAX_SOLUTION_CHARS = 2048
_POINTER = f"#/header/{HEADER}"
LINK = (
    '</v1/challenges>; rel="https://caravan.example/rels/challenge", '
    '</v1/challenges/time-lock>; rel="https://caravan.example/rels/time-lock"'
)


class ChallengeRequired(ProblemError):
    """Raised when a request past a free threshold carries no challenge solution."""

    status, slug, title = 428, "challenge-required", "Solve a challenge to continue"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail, headers={"Link": LINK, **(headers or {})})


class ChallengeInvalid(BadRequest):
    """Raised when the Caravan-Challenge header cannot be read as a solution or token."""

    slug, title = "challenge-invalid", "The challenge solution is malformed"


class ChallengeFailed(ProblemError):
    """Raised when a well-formed solution is wrong, expired, already used or not yet valid."""

    status, slug, title = 422, "challenge-failed", "The challenge solution was not accepted"
    #: a failed solution is counted before this is raised
    keep_writes = True


class ChallengeNotYetValid(ChallengeFailed):
    """Raised when a time-lock token is sent before its wait is over: an honest early submit,
    not counted as a wrong solution."""


class _Solution(msgspec.Struct, frozen=True):
    algorithm: str
    challenge: str
    number: int
    salt: str
    signature: str


def required(what: str) -> ChallengeRequired:
    return ChallengeRequired(
        f"Many {what} came in a short time, so this one needs a solved challenge: get one from "
        f"GET /v1/challenges, solve it, and send the solution in the {HEADER} header "
        f"(without JavaScript, a token from GET /v1/challenges/time-lock, once it is valid)."
    )


def _key(keyring: Keyring) -> bytes:
    return keyring.limiter_bucket("challenge-signing-key")


def _sign(keyring: Keyring, text: str) -> str:
    return hmac.new(_key(keyring), text.encode(), hashlib.sha256).hexdigest()


def _at(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def issue(settings: Settings, keyring: Keyring) -> Challenge:
    """A fresh ALTCHA challenge, valid for challenge_ttl_s."""
    expires = int(time.time()) + settings.challenge_ttl_s
    salt = f"{secrets.token_hex(12)}?expires={expires}&"  # ALTCHA v1's salt-with-params form
    number = secrets.randbelow(settings.challenge_difficulty + 1)
    challenge = hashlib.sha256(f"{salt}{number}".encode()).hexdigest()
    return Challenge(
        algorithm=ALGORITHM,
        challenge=challenge,
        maxnumber=settings.challenge_difficulty,
        salt=salt,
        signature=_sign(keyring, challenge),
        expires_at=_at(expires),
    )


def issue_time_lock(settings: Settings, keyring: Keyring) -> TimeLock:
    """A token that becomes valid challenge_wait_s after issue and expires with challenge_ttl_s."""
    issued = int(time.time())
    body = f"{TIME_LOCK_PREFIX}.{secrets.token_urlsafe(16)}.{issued}"
    return TimeLock(
        token=f"{body}.{_sign(keyring, body)}",
        valid_from=_at(issued + settings.challenge_wait_s),
        expires_at=_at(issued + settings.challenge_ttl_s),
    )


def _invalid(detail: str) -> ChallengeInvalid:
    return ChallengeInvalid(detail, errors=[FieldError(pointer=_POINTER, detail=detail)])


def _failed(detail: str) -> ChallengeFailed:
    return ChallengeFailed(
        detail + " Get a new challenge from GET /v1/challenges.",
        errors=[FieldError(pointer=_POINTER, detail=detail)],
    )


def _check_pow(keyring: Keyring, text: str) -> tuple[bytes, int]:
    """The spent-row digest and expiry of a correct ALTCHA solution."""
    try:
        raw = base64.b64decode(text, validate=True)
        solution = msgspec.json.decode(raw, type=_Solution)
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise _invalid(
            f"The {HEADER} header must be base64 of the JSON solution (algorithm, challenge, "
            "number, salt, signature) or a time-lock token."
        ) from None
    expires_text = parse_qs(solution.salt.partition("?")[2]).get("expires", [""])
    if solution.algorithm != ALGORITHM or len(expires_text) != 1 or not expires_text[0].isdigit():
        raise _failed("This solution is not for a challenge this server issued.")
    expected = _sign(keyring, solution.challenge)
    if not hmac.compare_digest(expected, solution.signature):
        raise _failed("This solution is not for a challenge this server issued.")
    expires = int(expires_text[0])
    if expires <= time.time():
        raise _failed("This challenge has expired.")
    found = hashlib.sha256(f"{solution.salt}{solution.number}".encode()).hexdigest()
    if not hmac.compare_digest(found, solution.challenge):
        raise _failed("The number does not solve this challenge.")
    return hashlib.sha256(b"pow:" + solution.challenge.encode()).digest(), expires


def _check_time_lock(settings: Settings, keyring: Keyring, text: str) -> tuple[bytes, int]:
    """The spent-row digest and expiry of a time-lock token whose wait is over."""
    body, _, signature = text.rpartition(".")
    parts = body.split(".")
    if len(parts) != 3 or not parts[2].isdigit() or not signature:
        raise _invalid("A time-lock token is the whole `token` from GET /v1/challenges/time-lock.")
    if not hmac.compare_digest(_sign(keyring, body), signature):
        raise _failed("This token was not issued by this server.")
    issued = int(parts[2])
    now = time.time()
    if issued + settings.challenge_ttl_s <= now:
        raise _failed("This token has expired.")
    if issued + settings.challenge_wait_s > now:
        wait = int(issued + settings.challenge_wait_s - now) + 1
        raise ChallengeNotYetValid(
            f"This token is not valid yet: send it again in {wait} seconds.",
            errors=[FieldError(pointer=_POINTER, detail="not valid yet")],
            headers={"Retry-After": str(wait)},
        )
    return hashlib.sha256(b"time-lock:" + body.encode()).digest(), issued + settings.challenge_ttl_s


async def redeem(conn: asyncpg.Connection, settings: Settings, keyring: Keyring, text: str) -> None:
    """Accept a solution or time-lock token once; raise ChallengeInvalid or ChallengeFailed."""
    text = text.strip()
    if not text or len(text) > MAX_SOLUTION_CHARS or not text.isascii():
        raise _invalid(f"The {HEADER} header is empty or too long to be a solution.")
    if text.startswith(TIME_LOCK_PREFIX + "."):
        digest, expires = _check_time_lock(settings, keyring, text)
    else:
        digest, expires = _check_pow(keyring, text)
    if not await q.spend_challenge(conn, digest, _at(expires)):
        raise _failed("This solution was already used; each one works once.")

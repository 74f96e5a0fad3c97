"""Two-factor authentication: TOTP (RFC 6238) and one-time recovery codes.

The secret is sealed with the account's 'totp' data key; recovery codes are kept only as keyed
hashes. A code's time step is remembered only in a short-lived keyed-hash rate_limits row, so
a code cannot be replayed and no time of use outlives the window.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
import time
from urllib.parse import quote, urlencode
from uuid import UUID

import asyncpg

from api.crypto import Keyring
from api.errors import Conflict, RuleViolation, Unauthorized
from api.services import encryption
from db.queries import accounts as q
from db.queries import rate_limits, sessions
from schemas.accounts import RecoveryCodes, TwoFactorEnrolment, TwoFactorStatus
from schemas.problems import FieldError

TOTP_CLASS = "totp"
DIGITS = 6
PERIOD_S = 30
SECRET_BYTES = 20  # 160 bits, the size RFC 4226 recommends for HMAC-SHA-1
RECOVERY_CODE_COUNT = 10
#: ±1 step of clock drift between phone and server
DRIFT_STEPS = 1
#: a used step stays remembered this long: past the end of the widest window that accepts it
USED_STEP_WINDOW_S = PERIOD_S * (2 * DRIFT_STEPS + 3)
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i


class SecondFactorRequired(Unauthorized):
    """Raised at login when the password is right but two-factor is on and no code was sent."""

    slug, title = "two-factor-required", "A two-factor code is required"


class SecondFactorFailed(Unauthorized):
    """Raised when a TOTP or recovery code is wrong or was already used; the failure counts
    against the login limit of the email, so the counter written before it must persist."""

    slug, title = "two-factor-failed", "The two-factor code is wrong"
    keep_writes = True


# ---------------------------------------------------------------- RFC 6238


def totp(secret: bytes, step: int, digits: int = DIGITS) -> str:
    """The code for a time step: HOTP (RFC 4226) over the step counter with HMAC-SHA-1."""
    mac = hmac.new(secret, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    number = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**digits).zfill(digits)


def time_step(at: float | None = None) -> int:
    return int((time.time() if at is None else at) // PERIOD_S)


def encode_secret(secret: bytes) -> str:
    return base64.b32encode(secret).decode().rstrip("=")


def decode_secret(text: str) -> bytes:
    return base64.b32decode(text + "=" * (-len(text) % 8))


def otpauth_uri(secret: bytes, label: str) -> str:
    query = urlencode(
        {
            "secret": encode_secret(secret),
            "issuer": "Caravan",
            "algorithm": "SHA1",
            "digits": DIGITS,
            "period": PERIOD_S,
        }
    )
    return f"otpauth://totp/{quote('Caravan:' + label)}?{query}"


# ---------------------------------------------------------------- checking codes


def _step_bucket(keyring: Keyring, account_id: UUID, step: int) -> bytes:
    return keyring.limiter_bucket("totp-step", str(account_id), str(step))


async def _open_secret(
    conn: asyncpg.Connection, keyring: Keyring, account_id: UUID, record: asyncpg.Record
) -> bytes | None:
    text = await encryption.open_sealed(
        conn, keyring, "account", account_id, TOTP_CLASS, record["secret_ciphertext"]
    )
    return None if text is None else decode_secret(text)


async def _accept_totp(
    conn: asyncpg.Connection, keyring: Keyring, account_id: UUID, secret: bytes, code: str
) -> bool:
    """True when `code` matches a step within the drift window that is later than any step
    already used; that step is then remembered as used."""
    now = time_step()
    candidates = range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1)
    used = [
        step
        for step in candidates
        if await rate_limits.select_bucket(
            conn, _step_bucket(keyring, account_id, step), USED_STEP_WINDOW_S
        )
        is not None
    ]
    for step in candidates:
        if hmac.compare_digest(totp(secret, step), code):
            if any(u >= step for u in used):
                return False  # a replay, or an older code after a newer one
            await rate_limits.hit_bucket(
                conn, _step_bucket(keyring, account_id, step), USED_STEP_WINDOW_S
            )
            return True
    return False


def normalize_recovery_code(code: str) -> str:
    return code.replace("-", "").replace(" ", "").lower()


def _recovery_hash(keyring: Keyring, account_id: UUID, code: str) -> bytes:
    return keyring.lookup_hash(f"recovery-code:{account_id}:{normalize_recovery_code(code)}")


def _new_recovery_code() -> str:
    chars = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
    return f"{chars[:5]}-{chars[5:]}"


async def is_enabled(conn: asyncpg.Connection, account_id: UUID) -> bool:
    record = await q.select_totp(conn, account_id)
    return record is not None and record["is_enabled"]


async def check_second_factor(
    conn: asyncpg.Connection,
    keyring: Keyring,
    account_id: UUID,
    totp_code: str | None,
    recovery_code: str | None,
) -> bool | None:
    """None when two-factor is off; else whether the TOTP or recovery code is good (a good
    recovery code is spent)."""
    record = await q.select_totp(conn, account_id)
    if record is None or not record["is_enabled"]:
        return None
    if recovery_code is not None:
        return await q.use_recovery_code(
            conn, account_id, _recovery_hash(keyring, account_id, recovery_code)
        )
    if totp_code is None:
        return False
    secret = await _open_secret(conn, keyring, account_id, record)
    return secret is not None and await _accept_totp(conn, keyring, account_id, secret, totp_code)


# ---------------------------------------------------------------- enrolment


async def get_status(conn: asyncpg.Connection, account_id: UUID) -> TwoFactorStatus:
    return TwoFactorStatus(
        enabled=await is_enabled(conn, account_id),
        recovery_codes_left=await q.count_recovery_codes(conn, account_id),
    )


async def begin_enrolment(
    conn: asyncpg.Connection, keyring: Keyring, account_id: UUID, label: str
) -> TwoFactorEnrolment:
    """A fresh secret, sealed and pending until a first code confirms it."""
    secret = secrets.token_bytes(SECRET_BYTES)
    sealed = await encryption.seal(
        conn, keyring, "account", account_id, TOTP_CLASS, encode_secret(secret)
    )
    assert sealed is not None
    if not await q.upsert_pending_totp(conn, account_id, sealed):
        raise Conflict(
            "Two-factor authentication is already on; turn it off first to change the app."
        )
    return TwoFactorEnrolment(secret=encode_secret(secret), otpauth_uri=otpauth_uri(secret, label))


async def _issue_recovery_codes(
    conn: asyncpg.Connection, keyring: Keyring, account_id: UUID
) -> RecoveryCodes:
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    await q.replace_recovery_codes(
        conn, account_id, [_recovery_hash(keyring, account_id, c) for c in codes]
    )
    return RecoveryCodes(codes=codes)


def _wrong_code() -> RuleViolation:
    return RuleViolation(
        "This code does not match the authenticator app (or was already used); "
        "check the phone's clock and try the next code.",
        errors=[FieldError(pointer="#/code", detail="does not match")],
    )


async def confirm_enrolment(
    conn: asyncpg.Connection,
    keyring: Keyring,
    account_id: UUID,
    session_id: UUID,
    code: str,
) -> RecoveryCodes:
    """Turn two-factor on with a first code; returns the recovery codes (shown once) and signs
    out every other session, which was opened with the password alone."""
    record = await q.select_totp(conn, account_id)
    if record is None:
        raise Conflict("Start with POST /v1/me/two-factor to get a secret first.")
    if record["is_enabled"]:
        raise Conflict("Two-factor authentication is already on.")
    secret = await _open_secret(conn, keyring, account_id, record)
    if secret is None or not await _accept_totp(conn, keyring, account_id, secret, code):
        raise _wrong_code()
    await q.enable_totp(conn, account_id)
    await sessions.delete_other_sessions(conn, account_id, session_id)
    return await _issue_recovery_codes(conn, keyring, account_id)


async def regenerate_recovery_codes(
    conn: asyncpg.Connection, keyring: Keyring, account_id: UUID, code: str
) -> RecoveryCodes:
    """A new set of recovery codes for a current code; the old set stops working."""
    record = await q.select_totp(conn, account_id)
    if record is None or not record["is_enabled"]:
        raise Conflict("Two-factor authentication is off; there are no recovery codes.")
    secret = await _open_secret(conn, keyring, account_id, record)
    if secret is None or not await _accept_totp(conn, keyring, account_id, secret, code):
        raise _wrong_code()
    return await _issue_recovery_codes(conn, keyring, account_id)


async def disable(conn: asyncpg.Connection, account_id: UUID) -> None:
    """Forget the secret and recovery codes, and delete the key that sealed the secret."""
    await q.delete_totp(conn, account_id)
    await q.delete_account_data_keys(conn, account_id, TOTP_CLASS)

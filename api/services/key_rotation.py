"""Master-key rotation: rewrap every live data key, and recompute the keyed email lookups,
from the old CARAVAN_SECRET_KEY to the new one in one transaction."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec

from api.crypto import DecryptionError, Keyring
from api.services.accounts import EMAIL_CLASS
from api.services.encryption import key_aad
from db.queries import data_keys


class RotationError(Exception):
    """Raised when a data key is wrapped by neither secret (nothing is changed then)."""


class RotationReport(msgspec.Struct, frozen=True, kw_only=True):
    """What a rotation did; counts only."""

    old_master_key_id: str
    new_master_key_id: str
    data_keys_rewrapped: int
    data_keys_already_new: int
    email_lookups: int
    emails_unreadable: int
    rate_limit_windows_dropped: int
    recovery_code_accounts: int


def _rewrap(new: Keyring, key: bytes, aad: bytes) -> bytes:
    # rotation is the one place that wraps an existing key rather than a fresh one
    return new.wrap(key, aad)


async def rotate_master_key(conn: asyncpg.Connection, old: Keyring, new: Keyring) -> RotationReport:
    """Rewrap every live data key from `old` to `new`, recompute every account's email lookup
    with `new`, and drop the keyed rows that cannot be recomputed (rate-limit windows and
    recovery codes, whose inputs are never stored). All or nothing.

    Keys already under `new` are left alone, so a rotation that is run again finishes the
    job instead of failing; a key under any other master key stops it before any change.
    Run it with the API and the worker stopped: anything they write under the old secret
    afterwards would not open with the new one.
    """
    if old.master_key_id == new.master_key_id:
        raise RotationError("The old and the new secret are the same; nothing to rotate.")
    report: dict[str, Any] = {
        "old_master_key_id": old.master_key_id,
        "new_master_key_id": new.master_key_id,
        "data_keys_rewrapped": 0,
        "data_keys_already_new": 0,
        "email_lookups": 0,
        "emails_unreadable": 0,
    }
    async with conn.transaction():
        await data_keys.lock_for_rotation(conn)
        rows = await data_keys.select_live_data_keys(conn)
        strangers = {r["master_key_id"] for r in rows} - {old.master_key_id, new.master_key_id}
        if strangers:
            raise RotationError(
                f"{sum(r['master_key_id'] in strangers for r in rows)} data key(s) are wrapped by "
                f"another master key ({', '.join(sorted(strangers))}); nothing was changed."
            )
        email_keys: dict[Any, bytes] = {}
        for row in rows:
            aad = key_aad(row["scope"], row["scope_id"], row["data_class"])
            if row["master_key_id"] == new.master_key_id:
                key = new.unwrap(row["wrapped_key"], aad)
                report["data_keys_already_new"] += 1
            else:
                try:
                    key = old.unwrap(row["wrapped_key"], aad)
                except DecryptionError as exc:
                    raise RotationError(
                        f"A data key marked {old.master_key_id} does not open with the old "
                        "secret; nothing was changed."
                    ) from exc
                await data_keys.rewrap_data_key(
                    conn, row["id"], _rewrap(new, key, aad), new.master_key_id
                )
                report["data_keys_rewrapped"] += 1
            if row["scope"] == "account" and row["data_class"] == EMAIL_CLASS:
                email_keys[row["scope_id"]] = key
        for account in await data_keys.select_account_emails(conn):
            email_key = email_keys.get(account["id"])
            if email_key is None:
                report["emails_unreadable"] += 1
                continue
            aad = key_aad("account", account["id"], EMAIL_CLASS)
            email = Keyring.decrypt(email_key, account["email_ciphertext"], aad)
            # the stored email is already normalized (lower-cased, trimmed) when sealed
            await data_keys.update_email_lookup(conn, account["id"], new.lookup_hash(email))
            report["email_lookups"] += 1
        dropped = await data_keys.delete_keyed_rows(conn)
    return RotationReport(
        **report,
        rate_limit_windows_dropped=dropped["rate_limits"],
        recovery_code_accounts=dropped["recovery_code_accounts"],
    )

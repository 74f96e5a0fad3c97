"""Accounts and login sessions."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from msgspec import UNSET, Meta, Struct, UnsetType

from schemas.common import DisplayName, Email, NextCursor, Password

Id = Annotated[UUID, Meta(examples=["9b2f0c1e-6a4d-4f7e-9a51-0c3e2b7d8f10"])]
When = Annotated[datetime, Meta(examples=["2026-12-05T17:00:00Z"])]


class AccountCreate(Struct, forbid_unknown_fields=True):
    """Sign up. Only an email, a display name (an alias is fine) and a password are asked."""

    email: Email
    display_name: DisplayName
    password: Password


class Account(Struct):
    """Your own account, as only you see it."""

    id: Id
    email: Email
    display_name: DisplayName
    created_at: When


class AccountPatch(Struct, forbid_unknown_fields=True):
    """Change your display name or email; omitted fields stay as they are."""

    display_name: DisplayName | UnsetType = UNSET
    email: Email | UnsetType = UNSET


class PasswordChange(Struct, forbid_unknown_fields=True):
    """Change your password; every other session is signed out."""

    current_password: Annotated[str, Meta(max_length=200, examples=["correct horse battery"])]
    new_password: Password


TotpCode = Annotated[
    str,
    Meta(
        pattern=r"^[0-9]{6}$",
        description="The 6-digit code your authenticator app shows now",
        examples=["492039"],
    ),
]
RecoveryCode = Annotated[
    str,
    Meta(
        min_length=10,
        max_length=40,
        pattern=r"^[A-Za-z0-9 -]+$",
        description="One of your one-time recovery codes (each works once)",
        examples=["k7m2p-x9qrt"],
    ),
]
SessionLabel = Annotated[
    str,
    Meta(max_length=60, pattern=r"^[^\x00]*$", description="Names the device", examples=["Phone"]),
]
CurrentPassword = Annotated[
    str, Meta(max_length=200, pattern=r"^[^\x00]*$", examples=["correct horse battery"])
]


class SessionCreate(Struct, forbid_unknown_fields=True):
    """Log in with email and password; `label` names the device for your session list. With
    two-factor authentication on, also send `totp_code` (or a `recovery_code`)."""

    email: Annotated[str, Meta(max_length=254, pattern=r"^[^\x00]*$", examples=["ana@example.org"])]
    password: CurrentPassword
    label: SessionLabel | None = None
    totp_code: TotpCode | None = None
    recovery_code: RecoveryCode | None = None


class Session(Struct):
    """A signed-in device. No IP address, user agent or login time is kept."""

    id: Id
    label: Annotated[str | None, Meta(examples=["Phone"])]
    expires_at: When
    current: Annotated[
        bool, Meta(description="This is the session making the request", examples=[True])
    ]


class SessionCreated(Struct):
    """The bearer token is shown once; only its hash is stored."""

    token: Annotated[
        str,
        Meta(description="Send as `Authorization: Bearer <token>`", examples=["cvn_sess_3q2..."]),
    ]
    session: Session


class SessionPage(Struct):
    """Your signed-in sessions."""

    items: list[Session]
    next_cursor: NextCursor = None


class TwoFactorStatus(Struct):
    """Whether two-factor authentication is on, and how many recovery codes are unused."""

    enabled: Annotated[bool, Meta(examples=[True])]
    recovery_codes_left: Annotated[int, Meta(examples=[10])]


class TwoFactorEnrolment(Struct):
    """A new TOTP secret (RFC 6238: SHA-1, 6 digits, 30 s) to add to an authenticator app.

    Two-factor authentication is on only once a first code confirms it."""

    secret: Annotated[
        str, Meta(description="Base32, for typing in by hand", examples=["JBSWY3DPEHPK3PXP..."])
    ]
    otpauth_uri: Annotated[
        str,
        Meta(
            description="For a QR code",
            examples=["otpauth://totp/Caravan:Ana?secret=JBSWY3DPEHPK3PXP&issuer=Caravan"],
        ),
    ]
    algorithm: Annotated[str, Meta(examples=["SHA1"])] = "SHA1"
    digits: Annotated[int, Meta(examples=[6])] = 6
    period: Annotated[int, Meta(examples=[30])] = 30


class TwoFactorCode(Struct, forbid_unknown_fields=True):
    """A current code from the authenticator app."""

    code: TotpCode


class TwoFactorDisable(Struct, forbid_unknown_fields=True):
    """Turn two-factor authentication off: your password and a code (or a recovery code)."""

    password: CurrentPassword
    totp_code: TotpCode | None = None
    recovery_code: RecoveryCode | None = None


class RecoveryCodes(Struct):
    """One-time recovery codes, shown this once: only their hashes are kept. Each logs you in
    once without the authenticator app; a new set replaces the old one."""

    codes: Annotated[list[str], Meta(examples=[["k7m2p-x9qrt", "4hw8c-nz3ae"]])]


class AccountDelete(Struct, forbid_unknown_fields=True):
    """Delete your account for good: your password (and a code when two-factor is on)."""

    password: CurrentPassword
    totp_code: TotpCode | None = None
    recovery_code: RecoveryCode | None = None

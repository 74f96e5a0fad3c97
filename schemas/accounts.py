"""Accounts and login sessions."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from msgspec import UNSET, Meta, Struct, UnsetType

from schemas.common import DisplayName, Email, NextCursor, Password, ShortText

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


class SessionCreate(Struct, forbid_unknown_fields=True):
    """Log in with email and password; `label` names the device for your session list."""

    email: Annotated[str, Meta(max_length=254, examples=["ana@example.org"])]
    password: Annotated[str, Meta(max_length=200, examples=["correct horse battery"])]
    label: ShortText | None = None


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

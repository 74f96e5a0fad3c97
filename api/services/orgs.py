"""Organizations and memberships: profile rules, roles and the last-owner rule."""

from __future__ import annotations

from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg
import msgspec

from api.crypto import Keyring
from api.errors import Conflict, Forbidden, NotFound, RuleViolation
from api.guards import ROLE_RANK, require_org_role
from api.pagination import decode_cursor, split_page
from api.services import accounts
from db.queries import audit, orgs
from schemas.feeds import feed_links
from schemas.orgs import (
    Member,
    MemberAdd,
    MemberPage,
    MemberPatch,
    MyOrg,
    MyOrgPage,
    Org,
    OrgCreate,
    OrgPage,
    OrgPatch,
)
from schemas.problems import FieldError


def check_timezone(name: str, pointer: str = "#/timezone") -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise RuleViolation(
            f"{name!r} is not an IANA time zone (for example America/Tijuana).",
            errors=[FieldError(pointer=pointer, detail="unknown time zone")],
        ) from None


def _org(record: asyncpg.Record, public_url: str | None) -> Org:
    org = msgspec.convert(
        {
            k: record[k]
            for k in (
                "id",
                "slug",
                "name",
                "description",
                "timezone",
                "website",
                "created_at",
                "updated_at",
                "require_two_factor",
            )
        },
        Org,
    )
    org.feeds = feed_links(public_url, f"/v1/orgs/{record['slug']}/calendar.ics")
    return org


def _member(record: asyncpg.Record) -> Member:
    return Member(
        account_id=record["account_id"],
        display_name=record["display_name"],
        role=record["role"],
        joined_at=record["joined_at"],
    )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def create_org(
    conn: asyncpg.Connection, public_url: str | None, account_id: UUID, data: OrgCreate
) -> Org:
    check_timezone(data.timezone)
    record = await orgs.insert_org(
        conn, data.slug, data.name.strip(), data.timezone, data.description, data.website
    )
    if record is None:
        raise Conflict(f"The slug {data.slug!r} is taken; choose another.")
    await orgs.insert_membership(conn, record["id"], account_id, "owner")
    return _org(record, public_url)


async def get_org(conn: asyncpg.Connection, public_url: str | None, slug: str) -> Org:
    record = await orgs.select_org(conn, slug)
    if record is None:
        raise NotFound(f"No organization has the slug {slug!r}.")
    return _org(record, public_url)


async def list_orgs(
    conn: asyncpg.Connection, public_url: str | None, q: str | None, cursor: str | None, limit: int
) -> OrgPage:
    after = decode_cursor(cursor, tuple[str, UUID])
    rows = await orgs.select_orgs(conn, _escape_like(q) if q else None, after, limit + 1)
    page, next_cursor = split_page(rows, limit, lambda r: (r["sort_name"], r["id"]))
    return OrgPage(items=[_org(r, public_url) for r in page], next_cursor=next_cursor)


async def list_my_orgs(
    conn: asyncpg.Connection,
    public_url: str | None,
    account_id: UUID,
    cursor: str | None,
    limit: int,
) -> MyOrgPage:
    after = decode_cursor(cursor, tuple[str, UUID])
    rows = await orgs.select_account_orgs(conn, account_id, after, limit + 1)
    page, next_cursor = split_page(rows, limit, lambda r: (r["sort_name"], r["id"]))
    return MyOrgPage(
        items=[MyOrg(org=_org(r, public_url), role=r["role"]) for r in page],
        next_cursor=next_cursor,
    )


async def update_org(
    conn: asyncpg.Connection,
    public_url: str | None,
    slug: str,
    account_id: UUID | None,
    data: OrgPatch,
) -> Org:
    org = await require_org_role(conn, slug, account_id, "organizer")
    if isinstance(data.timezone, str):
        check_timezone(data.timezone)
    require_two_factor = None
    if isinstance(data.require_two_factor, bool):
        require_two_factor = _check_two_factor_change(org, data.require_two_factor)
    record = await orgs.update_org(
        conn,
        org["id"],
        data.name.strip() if isinstance(data.name, str) else None,
        data.description if isinstance(data.description, str) else None,
        data.timezone if isinstance(data.timezone, str) else None,
        data.website is not msgspec.UNSET,
        data.website if isinstance(data.website, str) else None,
        require_two_factor,
    )
    if require_two_factor is not None and require_two_factor != org["require_two_factor"]:
        await audit.insert_audit_entry(
            conn,
            org["id"],
            account_id,
            "org.two_factor_requirement_changed",
            "org",
            org["id"],
            {"from": org["require_two_factor"], "to": require_two_factor},
        )
    return _org(record, public_url)


def _check_two_factor_change(org: asyncpg.Record, wanted: bool) -> bool:
    """Only owners set the requirement, and only with two-factor on themselves (so the
    requirement never locks out the owner who sets it)."""
    if org["role"] != "owner":
        raise Forbidden("Only an owner can change whether two-factor authentication is required.")
    if wanted and not org["caller_two_factor"]:
        raise Conflict(
            "Turn on two-factor authentication for your own account first; then require it "
            "of the organization's organizers and owners."
        )
    return wanted


async def list_members(
    conn: asyncpg.Connection, slug: str, account_id: UUID | None, cursor: str | None, limit: int
) -> MemberPage:
    org = await require_org_role(conn, slug, account_id, "organizer")
    after = decode_cursor(cursor, tuple[str, UUID])
    rows = await orgs.select_members(conn, org["id"], after, limit + 1)
    page, next_cursor = split_page(rows, limit, lambda r: (r["sort_name"], r["account_id"]))
    await audit.insert_audit_entry(
        conn, org["id"], account_id, "members.listed", "org", org["id"], {"rows": len(page)}
    )
    return MemberPage(items=[_member(r) for r in page], next_cursor=next_cursor)


def _check_can_grant(caller_role: str, role: str) -> None:
    # Organizers manage members and organizers; only owners make or unmake owners.
    if role == "owner" and caller_role != "owner":
        raise Forbidden("Only an owner can make, unmake or remove an owner.")


async def add_member(
    conn: asyncpg.Connection, keyring: Keyring, slug: str, account_id: UUID | None, data: MemberAdd
) -> Member:
    org = await require_org_role(conn, slug, account_id, "organizer")
    _check_can_grant(org["role"], data.role)
    new_id = await accounts.find_account_id_by_email(conn, keyring, data.email)
    if new_id is None:
        # 422, not 404: the org exists; what the body names does not (a 404 here read as
        # "no such org" to clients and to schemathesis' stateful checks)
        raise RuleViolation(
            "No account uses this email; ask them to sign up first.",
            errors=[FieldError(pointer="#/email", detail="no account uses this email")],
        )
    record = await orgs.insert_membership(conn, org["id"], new_id, data.role)
    if record is None:
        raise Conflict("This person is already a member; change their role instead.")
    await audit.insert_audit_entry(
        conn, org["id"], account_id, "member.added", "account", new_id, {"role": data.role}
    )
    return _member(record)


async def _owners_after_change(
    conn: asyncpg.Connection, org_id: UUID, target: asyncpg.Record
) -> None:
    if target["role"] == "owner" and await orgs.count_owners(conn, org_id) <= 1:
        raise Conflict("This is the last owner; make someone else an owner first.")


async def change_member_role(
    conn: asyncpg.Connection, slug: str, account_id: UUID | None, member_id: UUID, data: MemberPatch
) -> Member:
    org = await require_org_role(conn, slug, account_id, "organizer")
    await orgs.lock_org(conn, org["id"])
    target = await orgs.select_membership(conn, org["id"], member_id)
    if target is None:
        raise NotFound("This account is not a member of the organization.")
    if "owner" in (target["role"], data.role):
        _check_can_grant(org["role"], "owner")
    if data.role != "owner":
        await _owners_after_change(conn, org["id"], target)
    record = await orgs.update_membership_role(conn, org["id"], member_id, data.role)
    assert record is not None
    await audit.insert_audit_entry(
        conn,
        org["id"],
        account_id,
        "member.role_changed",
        "account",
        member_id,
        {"from": target["role"], "to": data.role},
    )
    return _member(record)


async def remove_member(
    conn: asyncpg.Connection, slug: str, account_id: UUID | None, member_id: UUID
) -> None:
    """Remove a member; a member removing themselves is leaving, which any role may do."""
    leaving = account_id == member_id
    org = await require_org_role(conn, slug, account_id, "member" if leaving else "organizer")
    await orgs.lock_org(conn, org["id"])
    target = await orgs.select_membership(conn, org["id"], member_id)
    if target is None:
        raise NotFound("This account is not a member of the organization.")
    if not leaving and ROLE_RANK[target["role"]] > ROLE_RANK[org["role"]]:
        _check_can_grant(org["role"], "owner")
    await _owners_after_change(conn, org["id"], target)
    await orgs.delete_membership(conn, org["id"], member_id)
    await audit.insert_audit_entry(
        conn,
        org["id"],
        account_id,
        "member.left" if leaving else "member.removed",
        "account",
        member_id,
    )

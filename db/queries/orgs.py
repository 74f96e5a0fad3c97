"""SQL for organizations and memberships."""

from __future__ import annotations

from uuid import UUID

import asyncpg

ORG_COLUMNS = (
    "o.id, o.slug, o.name, o.description, o.timezone, o.website, o.created_at, o.updated_at, "
    "o.require_two_factor"
)


async def insert_org(
    conn: asyncpg.Connection,
    slug: str,
    name: str,
    timezone: str,
    description: str,
    website: str | None,
) -> asyncpg.Record | None:
    """Insert an org; None when the slug is taken."""
    return await conn.fetchrow(
        f"""
        INSERT INTO orgs AS o (slug, name, timezone, description, website)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT ON CONSTRAINT orgs_slug_key DO NOTHING
        RETURNING {ORG_COLUMNS}
        """,
        slug,
        name,
        timezone,
        description,
        website,
    )


async def select_org(conn: asyncpg.Connection, slug: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {ORG_COLUMNS} FROM orgs o WHERE o.slug = $1", slug)


async def select_org_with_role(
    conn: asyncpg.Connection, slug: str, account_id: UUID | None
) -> asyncpg.Record | None:
    """The org, the caller's role in it (role NULL for non-members) and whether the caller
    has two-factor authentication on, in one round trip."""
    return await conn.fetchrow(
        f"""
        SELECT {ORG_COLUMNS}, m.role,
               EXISTS (SELECT 1 FROM account_totp t
                        WHERE t.account_id = $2 AND t.is_enabled) AS caller_two_factor
          FROM orgs o
          LEFT JOIN memberships m ON m.org_id = o.id AND m.account_id = $2
         WHERE o.slug = $1
        """,
        slug,
        account_id,
    )


# The host-org lists an organizer role can come through, per kind of object (fixed SQL).
_HOSTS = {
    "event": "SELECT org_id FROM events WHERE id = $1 UNION SELECT org_id FROM event_cohosts WHERE event_id = $1",
    "trip": "SELECT org_id FROM trips WHERE id = $1 UNION SELECT org_id FROM trip_cohosts WHERE trip_id = $1",
}


async def select_two_factor_block(
    conn: asyncpg.Connection, kind: str, object_id: UUID, account_id: UUID
) -> str | None:
    """The slug of an org that blocks this organizer for lack of two-factor, or None.

    The caller may act through any hosting org where they organize; they are blocked only
    when every such org requires two-factor and they have not turned it on.
    """
    return await conn.fetchval(
        f"""
        SELECT min(o.slug)
          FROM orgs o
          JOIN memberships m ON m.org_id = o.id AND m.account_id = $2
                            AND m.role IN ('organizer', 'owner')
         WHERE o.id IN ({_HOSTS[kind]})
           AND NOT EXISTS (SELECT 1 FROM account_totp t WHERE t.account_id = $2 AND t.is_enabled)
        HAVING bool_and(o.require_two_factor)
        """,
        object_id,
        account_id,
    )


async def select_orgs(
    conn: asyncpg.Connection, name_query: str | None, after: tuple[str, UUID] | None, limit: int
) -> list[asyncpg.Record]:
    """The public directory, ordered by name; `name_query` matches anywhere in the name."""
    return await conn.fetch(
        f"""
        SELECT {ORG_COLUMNS}, lower(o.name) AS sort_name
          FROM orgs o
         WHERE ($1::text IS NULL OR o.name ILIKE '%' || $1 || '%' ESCAPE '\\')
           AND ($2::text IS NULL OR (lower(o.name), o.id) > ($2, $3))
         ORDER BY lower(o.name), o.id
         LIMIT $4
        """,
        name_query,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )


async def select_account_orgs(
    conn: asyncpg.Connection, account_id: UUID, after: tuple[str, UUID] | None, limit: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""
        SELECT {ORG_COLUMNS}, m.role, lower(o.name) AS sort_name
          FROM memberships m
          JOIN orgs o ON o.id = m.org_id
         WHERE m.account_id = $1
           AND ($2::text IS NULL OR (lower(o.name), o.id) > ($2, $3))
         ORDER BY lower(o.name), o.id
         LIMIT $4
        """,
        account_id,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )


async def update_org(
    conn: asyncpg.Connection,
    org_id: UUID,
    name: str | None,
    description: str | None,
    timezone: str | None,
    set_website: bool,
    website: str | None,
    require_two_factor: bool | None = None,
) -> asyncpg.Record:
    row = await conn.fetchrow(
        f"""
        UPDATE orgs AS o
           SET name        = coalesce($2, o.name),
               description = coalesce($3, o.description),
               timezone    = coalesce($4, o.timezone),
               website     = CASE WHEN $5 THEN $6 ELSE o.website END,
               require_two_factor = coalesce($7, o.require_two_factor),
               updated_at  = now()
         WHERE o.id = $1
     RETURNING {ORG_COLUMNS}
        """,
        org_id,
        name,
        description,
        timezone,
        set_website,
        website,
        require_two_factor,
    )
    assert row is not None
    return row


async def lock_org(conn: asyncpg.Connection, org_id: UUID) -> None:
    """Serialize membership changes of one org (the last-owner rule counts owners after this)."""
    await conn.execute("SELECT 1 FROM orgs WHERE id = $1 FOR UPDATE", org_id)


async def insert_membership(
    conn: asyncpg.Connection, org_id: UUID, account_id: UUID, role: str
) -> asyncpg.Record | None:
    """None when the account is already a member."""
    return await conn.fetchrow(
        """
        INSERT INTO memberships (org_id, account_id, role)
        VALUES ($1, $2, $3)
        ON CONFLICT ON CONSTRAINT memberships_pkey DO NOTHING
        RETURNING account_id, role, created_at AS joined_at,
                  (SELECT display_name FROM accounts WHERE id = $2) AS display_name
        """,
        org_id,
        account_id,
        role,
    )


async def select_membership(
    conn: asyncpg.Connection, org_id: UUID, account_id: UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """
        SELECT m.account_id, a.display_name, m.role, m.created_at AS joined_at
          FROM memberships m
          JOIN accounts a ON a.id = m.account_id
         WHERE m.org_id = $1 AND m.account_id = $2
        """,
        org_id,
        account_id,
    )


async def select_members(
    conn: asyncpg.Connection, org_id: UUID, after: tuple[str, UUID] | None, limit: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT m.account_id, a.display_name, m.role, m.created_at AS joined_at,
               lower(a.display_name) AS sort_name
          FROM memberships m
          JOIN accounts a ON a.id = m.account_id
         WHERE m.org_id = $1
           AND ($2::text IS NULL OR (lower(a.display_name), m.account_id) > ($2, $3))
         ORDER BY lower(a.display_name), m.account_id
         LIMIT $4
        """,
        org_id,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )


async def count_owners(conn: asyncpg.Connection, org_id: UUID) -> int:
    count = await conn.fetchval(
        "SELECT count(*) FROM memberships WHERE org_id = $1 AND role = 'owner'", org_id
    )
    return int(count)


async def update_membership_role(
    conn: asyncpg.Connection, org_id: UUID, account_id: UUID, role: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """
        UPDATE memberships m
           SET role = $3
          FROM accounts a
         WHERE m.org_id = $1 AND m.account_id = $2 AND a.id = m.account_id
     RETURNING m.account_id, a.display_name, m.role, m.created_at AS joined_at
        """,
        org_id,
        account_id,
        role,
    )


async def delete_membership(conn: asyncpg.Connection, org_id: UUID, account_id: UUID) -> bool:
    status = await conn.execute(
        "DELETE FROM memberships WHERE org_id = $1 AND account_id = $2", org_id, account_id
    )
    return status != "DELETE 0"

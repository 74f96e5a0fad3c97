"""Forward-only migrations: numbered .sql files applied in order under one advisory lock."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Any fixed 64-bit number: every Caravan process that migrates takes the same lock.
ADVISORY_LOCK_KEY = 0x43415241_56414E31
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(Exception):
    """Raised when an applied migration file was edited or a file name is malformed."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise MigrationError(f"migration file name {path.name!r} is not NNNN_name.sql")
        migrations.append(Migration(int(match.group(1)), match.group(2), path.read_text()))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migration files share a number")
    return migrations


async def migrate(conn: asyncpg.Connection, directory: Path = MIGRATIONS_DIR) -> list[int]:
    """Apply pending migrations; return the versions applied (empty when up to date)."""
    migrations = load_migrations(directory)
    await conn.execute("SELECT pg_advisory_lock($1)", ADVISORY_LOCK_KEY)
    try:
        await conn.execute(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version    integer PRIMARY KEY,
                name       text NOT NULL,
                checksum   text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """
        )
        applied = {
            r["version"]: r["checksum"]
            for r in await conn.fetch("SELECT version, checksum FROM schema_migrations")
        }
        done: list[int] = []
        for migration in migrations:
            if migration.version in applied:
                if applied[migration.version] != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.version:04d}_{migration.name} was edited after it "
                        "was applied; add a new migration instead"
                    )
                continue
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
            done.append(migration.version)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", ADVISORY_LOCK_KEY)


async def set_database_defaults(conn: asyncpg.Connection, defaults: dict[str, str]) -> None:
    """Make `defaults` (db.pool.session_defaults) the database's own session defaults.

    Behind PgBouncer the pool cannot send its timeouts as start-up parameters, and a `SET` on
    one server connection would reach only whichever client happens to get it next. The
    other way is a `SET LOCAL` per request transaction: one more round trip per write, and
    reads run without a transaction block, so they would need BEGIN and COMMIT again. Set on
    the database instead, every server connection PgBouncer opens starts with them, at no cost
    per request. Connections that send their own start-up parameters (direct ones) still win.
    Needs the database's owner, which is who migrates.
    """
    for name, value in defaults.items():
        # identifiers and value quoted by the server's format(); names come from the code
        statement = await conn.fetchval(
            "SELECT format('ALTER DATABASE %I SET %I = %L', current_database(), $1::text, $2::text)",
            name,
            value,
        )
        await conn.execute(statement)

"""SQL for fixed-window rate-limit counters shared by every API process."""

from __future__ import annotations

import asyncpg


async def hit_bucket(conn: asyncpg.Connection, bucket: bytes, window_s: int) -> asyncpg.Record:
    """Count one hit; a window older than window_s starts over. Returns hits and seconds left."""
    row = await conn.fetchrow(
        """
        INSERT INTO rate_limits AS r (bucket, window_started_at, hits)
        VALUES ($1, now(), 1)
        ON CONFLICT (bucket) DO UPDATE
           SET hits = CASE WHEN r.window_started_at <= now() - make_interval(secs => $2)
                           THEN 1 ELSE r.hits + 1 END,
               window_started_at = CASE WHEN r.window_started_at <= now() - make_interval(secs => $2)
                                        THEN now() ELSE r.window_started_at END
        RETURNING hits,
                  ceil(extract(epoch FROM window_started_at + make_interval(secs => $2) - now()))::int
                      AS seconds_left
        """,
        bucket,
        window_s,
    )
    assert row is not None
    return row


async def select_bucket(
    conn: asyncpg.Connection, bucket: bytes, window_s: int
) -> asyncpg.Record | None:
    """The live window's hits and seconds left; None when no window is open."""
    return await conn.fetchrow(
        """
        SELECT hits,
               ceil(extract(epoch FROM window_started_at + make_interval(secs => $2) - now()))::int
                   AS seconds_left
          FROM rate_limits
         WHERE bucket = $1
           AND window_started_at > now() - make_interval(secs => $2)
        """,
        bucket,
        window_s,
    )


async def delete_bucket(conn: asyncpg.Connection, bucket: bytes) -> None:
    await conn.execute("DELETE FROM rate_limits WHERE bucket = $1", bucket)

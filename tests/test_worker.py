"""Housekeeping deletes what must not be kept, and nothing else."""

from __future__ import annotations

from api.worker import run_housekeeping
from tests.people import sign_up


async def test_housekeeping_deletes_expired_sessions_and_keeps_live_ones(client, conn):
    live = await sign_up(client, "Live")
    expired = await sign_up(client, "Expired")
    await conn.execute(
        "UPDATE sessions SET expires_at = now() - interval '1 minute' WHERE account_id = $1::uuid",
        expired.id,
    )
    counts = await run_housekeeping(conn)
    assert counts["sessions"] == 1
    remaining = await conn.fetch("SELECT account_id::text FROM sessions")
    assert [r["account_id"] for r in remaining] == [live.id]

"""Seats under concurrency: real HTTP through the app, a real pool of 10 connections.

Confirmations by the driver and auto-confirmed bookings race for a 4-seat car; exactly 4
seats end up confirmed, the losers get 409 (a refused confirmation stays requested), nothing
answers 5xx, and the counter equals the confirmed seats.

Teeth check (done by hand, not committed): with `move_seats` swapped for "read seats_taken,
then write seats_taken + n" and the parent and offer row locks removed, the race test failed
with 57 seats won for the 4-seat car; with the conditional UPDATE and the locks it passes
every run.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from db.pool import connect
from tests.events_helpers import published_event
from tests.people import Person, create_org, sign_up
from tests.rides_helpers import book, offer_ride

pytestmark = pytest.mark.concurrency

SEATS = 4


@pytest.fixture
async def db(live_database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A plain connection to the live database, to read what the app wrote."""
    conn = await connect(live_database_url)
    try:
        yield conn
    finally:
        await conn.close()


async def many(client: httpx.AsyncClient, n: int, prefix: str) -> list[Person]:
    people: list[Person] = []
    for start in range(0, n, 20):
        people += await asyncio.gather(
            *(sign_up(client, f"{prefix} {i}") for i in range(start, min(start + 20, n)))
        )
    return people


async def a_car(client: httpx.AsyncClient) -> tuple[dict[str, Any], Person]:
    organizer = await sign_up(client, "Rosa")
    org = await create_org(client, organizer)
    event = await published_event(client, org, organizer)
    driver = await sign_up(client, "Ana")
    return await offer_ride(client, event, driver, seats=SEATS), driver


async def test_confirmations_and_auto_bookings_race_for_the_last_seats(live_client, db):
    client = live_client
    offer, driver = await a_car(client)
    waiting = await many(client, 60, "Waiting")
    requested = await asyncio.gather(*(book(client, offer, p) for p in waiting))
    assert [r.status_code for r in requested] == [201] * 60
    switched = await client.patch(
        f"/v1/ride-offers/{offer['id']}", json={"auto_confirm": True}, headers=driver.headers
    )
    assert switched.status_code == 200, switched.text
    newcomers = await many(client, 60, "New")
    seats = [2 if i % 4 == 0 else 1 for i in range(60)]

    async def confirm(booking: dict[str, Any]) -> tuple[str, int, httpx.Response]:
        response = await client.post(
            f"/v1/ride-bookings/{booking['id']}/confirm", headers=driver.headers
        )
        return "confirm", booking["seats"], response

    async def arrive(person: Person, n: int) -> tuple[str, int, httpx.Response]:
        return "book", n, await book(client, offer, person, seats=n)

    jobs = [confirm(r.json()) for r in requested] + [
        arrive(p, n) for p, n in zip(newcomers, seats, strict=True)
    ]
    random.shuffle(jobs)
    results = await asyncio.gather(*jobs)

    assert len(results) == 120
    assert not [r for _, _, r in results if r.status_code >= 500]
    won = [(kind, n) for kind, n, r in results if r.status_code in (200, 201)]
    lost = [r for _, _, r in results if r.status_code == 409]
    assert len(won) + len(lost) == 120, {r.status_code for _, _, r in results}
    assert sum(n for _, n in won) == SEATS
    for response in lost:
        assert "not enough free seats" in response.json()["detail"].lower()

    row = await db.fetchrow(
        "SELECT seats, seats_taken, status FROM ride_offers WHERE id = $1", offer["id"]
    )
    confirmed = await db.fetchval(
        "SELECT coalesce(sum(seats), 0) FROM ride_bookings WHERE offer_id = $1 "
        "AND status = 'confirmed'",
        offer["id"],
    )
    assert (row["seats_taken"], confirmed, row["status"]) == (SEATS, SEATS, "full")
    # refused confirmations stay requested; refused newcomers left no row behind
    statuses = await db.fetch(
        "SELECT status, count(*) FROM ride_bookings WHERE offer_id = $1 GROUP BY status",
        offer["id"],
    )
    counts = {r["status"]: r["count"] for r in statuses}
    confirmations_won = sum(1 for kind, _ in won if kind == "confirm")
    bookings_won = sum(1 for kind, _ in won if kind == "book")
    assert counts.get("requested", 0) == 60 - confirmations_won
    assert counts.get("confirmed", 0) == confirmations_won + bookings_won
    assert sum(counts.values()) == 60 + bookings_won


async def test_one_rider_booking_twenty_times_at_once_gets_one_booking(live_client, db):
    client = live_client
    offer, _ = await a_car(client)
    rider = await sign_up(client, "Luis")
    responses = await asyncio.gather(*(book(client, offer, rider) for _ in range(20)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [201] + [409] * 19, codes
    count = await db.fetchval("SELECT count(*) FROM ride_bookings WHERE offer_id = $1", offer["id"])
    assert count == 1

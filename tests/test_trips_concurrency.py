"""Places under concurrency: a real pool of connections, many requests at once."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import httpx

from db.pool import connect
from tests.people import Person, create_org, sign_up
from tests.trips_helpers import apply, decide, open_trip_for


async def _people(client: httpx.AsyncClient, count: int, prefix: str) -> list[Person]:
    return list(await asyncio.gather(*(sign_up(client, f"{prefix} {i}") for i in range(count))))


async def _counts(database_url: str, trip_id: str) -> dict[str, Any]:
    conn = await connect(database_url)
    try:
        row = await conn.fetchrow(
            """
            SELECT t.places_taken, t.capacity, t.status,
                   (SELECT count(*) FROM trip_applications a
                     WHERE a.trip_id = t.id AND a.status = 'accepted') AS accepted,
                   (SELECT count(*) FROM trip_applications a
                     WHERE a.trip_id = t.id AND a.status = 'waitlisted') AS waitlisted
              FROM trips t
             WHERE t.id = $1
            """,
            UUID(trip_id),
        )
        assert row is not None
        return dict(row)
    finally:
        await conn.close()


async def test_a_hundred_simultaneous_accepts_fill_twelve_places_exactly(
    live_client: httpx.AsyncClient, live_database_url: str
) -> None:
    owner = await sign_up(live_client, "Organizer")
    org = await create_org(live_client, owner)
    trip = await open_trip_for(live_client, org, owner, capacity=12)
    applicants = await _people(live_client, 100, "Applicant")
    applications = list(
        await asyncio.gather(*(apply(live_client, trip, person) for person in applicants))
    )

    responses = await asyncio.gather(
        *(decide(live_client, application, "accept", owner) for application in applications)
    )

    statuses = [r.status_code for r in responses]
    assert not [r.text for r in responses if r.status_code >= 500]
    assert statuses.count(200) == 12, statuses
    assert statuses.count(409) == 88, statuses
    assert all("full" in r.json()["detail"] for r in responses if r.status_code == 409), (
        "every refusal says the trip is full"
    )
    counts = await _counts(live_database_url, trip["id"])
    assert counts["places_taken"] == 12 == counts["accepted"]
    assert counts["status"] == "full"
    seen = await live_client.get(f"/v1/trips/{trip['id']}")
    assert seen.json()["places_taken"] == 12 and seen.json()["spots_left"] == 0


async def test_concurrent_withdrawals_hand_places_to_the_earliest_waitlisted_only(
    live_client: httpx.AsyncClient, live_database_url: str
) -> None:
    owner = await sign_up(live_client, "Organizer")
    org = await create_org(live_client, owner)
    trip = await open_trip_for(live_client, org, owner, capacity=12)
    going = await _people(live_client, 12, "Going")
    waiting = await _people(live_client, 10, "Waiting")
    newcomers = await _people(live_client, 20, "Newcomer")
    going_apps = [await apply(live_client, trip, p) for p in going]
    for application in going_apps:
        assert (await decide(live_client, application, "accept", owner)).status_code == 200
    waiting_apps = []
    for person in waiting:  # one after another: the waitlist order is known
        application = await apply(live_client, trip, person)
        assert (await decide(live_client, application, "waitlist", owner)).status_code == 200
        waiting_apps.append(application)
    newcomer_apps = list(await asyncio.gather(*(apply(live_client, trip, p) for p in newcomers)))

    withdrawals = [
        live_client.post(
            f"/v1/trip-applications/{application['id']}/withdraw", headers=person.headers
        )
        for application, person in zip(going_apps[:6], going[:6], strict=True)
    ]
    duplicate_withdrawals = [
        live_client.post(
            f"/v1/trip-applications/{application['id']}/withdraw", headers=person.headers
        )
        for application, person in zip(going_apps[:6], going[:6], strict=True)
    ]
    accepts = [decide(live_client, application, "accept", owner) for application in newcomer_apps]
    responses = await asyncio.gather(*withdrawals, *duplicate_withdrawals, *accepts)

    assert not [r.text for r in responses if r.status_code >= 500]
    withdraw_statuses = [r.status_code for r in responses[:12]]
    assert withdraw_statuses.count(200) == 6 and withdraw_statuses.count(409) == 6
    # every freed place went to the waitlist in the same transaction: no newcomer got one
    assert [r.status_code for r in responses[12:]] == [409] * 20
    counts = await _counts(live_database_url, trip["id"])
    assert counts["places_taken"] == 12 == counts["accepted"]
    assert counts["waitlisted"] == 4
    promoted = [
        (
            await live_client.get(
                f"/v1/trips/{trip['id']}/applications/mine", headers=person.headers
            )
        ).json()["status"]
        for person in waiting
    ]
    assert promoted == ["accepted"] * 6 + ["waitlisted"] * 4

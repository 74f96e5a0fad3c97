"""Master-key rotation: after it, the new secret logs people in by email and opens sealed data;
the old secret unwraps nothing; a key under a third secret stops it before any change."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID

import asyncpg
import httpx
import pytest

from api.app import create_app
from api.crypto import DecryptionError, Keyring
from api.services import encryption, rsvp_manage
from api.services.key_rotation import RotationError, rotate_master_key
from tests.conftest import SharedConnection, settings_for
from tests.events_helpers import published_event
from tests.people import PASSWORD, create_org, sign_up
from tests.rides_helpers import CONTACT, PICKUP, get_offer, offer_ride
from tests.trips_helpers import accepted, open_trip_for

NEW_SECRET = "the-new-secret-key-that-is-long-enough-9876543210"
OTHER_SECRET = "a-third-secret-key-nobody-used-for-these-rows-0000"


@asynccontextmanager
async def app_with_secret(
    database_url: str, conn: asyncpg.Connection, secret: str
) -> AsyncIterator[httpx.AsyncClient]:
    settings = settings_for(database_url, CARAVAN_SECRET_KEY=secret)
    app = create_app(settings, pool=SharedConnection(conn))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def login(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await client.post("/v1/sessions", json={"email": email, "password": PASSWORD})


async def test_after_rotation_the_new_secret_opens_everything_and_the_old_one_nothing(
    client: httpx.AsyncClient, conn: asyncpg.Connection, database_url: str, settings
) -> None:
    owner = await sign_up(client, "Owner")
    org = await create_org(client, owner)
    event = await published_event(client, org, owner)
    rsvp = await client.post(
        f"/v1/events/{event['id']}/rsvps", json={"alias": "Lupe", "contact": "lupe@example.org"}
    )
    assert rsvp.status_code == 201, rsvp.text
    driver = await sign_up(client, "Driver")
    offer = await offer_ride(client, event, driver)
    trip = await open_trip_for(client, org, owner)
    ana = await sign_up(client, "Ana")
    application = await accepted(
        client, trip, ana, owner, emergency_contact={"name": "Rosa", "phone": "+52 664 555"}
    )
    old = Keyring(settings.secret_key)
    new = Keyring(NEW_SECRET)
    live_before = await conn.fetchval(
        "SELECT count(*) FROM data_keys WHERE wrapped_key IS NOT NULL"
    )

    report = await rotate_master_key(conn, old, new)

    assert report.data_keys_rewrapped == live_before and report.data_keys_already_new == 0
    assert report.email_lookups == await conn.fetchval("SELECT count(*) FROM accounts")
    assert report.emails_unreadable == 0
    rows = await conn.fetch(
        "SELECT scope, scope_id, data_class, wrapped_key, master_key_id FROM data_keys "
        "WHERE wrapped_key IS NOT NULL"
    )
    assert {r["master_key_id"] for r in rows} == {new.master_key_id}
    for row in rows:
        aad = encryption.key_aad(row["scope"], row["scope_id"], row["data_class"])
        new.unwrap(row["wrapped_key"], aad)
        with pytest.raises(DecryptionError):
            old.unwrap(row["wrapped_key"], aad)

    async with app_with_secret(database_url, conn, NEW_SECRET) as rotated:
        # login by email works, and sealed data opens
        for person in (owner, driver, ana):
            assert (await login(rotated, person.email)).status_code == 201
        me = await rotated.get("/v1/me", headers=owner.headers)  # sessions survive
        assert me.json()["email"] == owner.email
        listed = await rotated.get(f"/v1/events/{event['id']}/rsvps", headers=owner.headers)
        assert [a["contact"] for a in listed.json()["items"]] == ["lupe@example.org"]
        pickup = (await get_offer(rotated, offer, driver))["pickup"]
        assert (pickup["address"], pickup["contact"]) == (PICKUP["address"], CONTACT)
        data = await rotated.get(
            f"/v1/trip-applications/{application['id']}/participant-data", headers=ana.headers
        )
        assert data.json()["emergency_contact"]["name"] == "Rosa", data.text
        # new sealed data works too
        more = await rotated.post(
            f"/v1/events/{event['id']}/rsvps", json={"alias": "Juan", "contact": "j@example.org"}
        )
        assert more.status_code == 201, more.text

    # the old secret finds nobody and opens nothing
    assert (await login(client, owner.email)).status_code == 401
    ciphertext = await conn.fetchval(
        "SELECT contact_ciphertext FROM rsvps WHERE id = $1", UUID(rsvp.json()["id"])
    )
    with pytest.raises(DecryptionError):
        await encryption.open_sealed(
            conn, old, "event", UUID(event["id"]), "rsvp_contact", ciphertext
        )

    # running it again finishes nothing new and breaks nothing
    again = await rotate_master_key(conn, old, new)
    assert again.data_keys_rewrapped == 0 and again.data_keys_already_new > 0
    async with app_with_secret(database_url, conn, NEW_SECRET) as rotated:
        assert (await login(rotated, ana.email)).status_code == 201


async def test_a_key_under_another_secret_stops_the_rotation_before_any_change(
    client: httpx.AsyncClient, conn: asyncpg.Connection, settings
) -> None:
    person = await sign_up(client, "Ana")
    before = await conn.fetch("SELECT id, wrapped_key, master_key_id FROM data_keys ORDER BY id")
    lookups = await conn.fetch("SELECT id, email_lookup FROM accounts ORDER BY id")
    with pytest.raises(RotationError):
        await rotate_master_key(conn, Keyring(OTHER_SECRET), Keyring(NEW_SECRET))
    with pytest.raises(RotationError):
        await rotate_master_key(conn, Keyring(settings.secret_key), Keyring(settings.secret_key))
    assert await conn.fetch("SELECT id, wrapped_key, master_key_id FROM data_keys ORDER BY id") == (
        before
    )
    assert await conn.fetch("SELECT id, email_lookup FROM accounts ORDER BY id") == lookups
    assert (await login(client, person.email)).status_code == 201


async def test_keyed_rows_that_cannot_be_recomputed_are_dropped(
    client: httpx.AsyncClient, conn: asyncpg.Connection, settings
) -> None:
    person = await sign_up(client, "Ana")
    # a failed login leaves a keyed rate-limit window
    await client.post("/v1/sessions", json={"email": person.email, "password": "wrong password"})
    assert await conn.fetchval("SELECT count(*) FROM rate_limits") > 0
    report = await rotate_master_key(conn, Keyring(settings.secret_key), Keyring(NEW_SECRET))
    assert report.rate_limit_windows_dropped > 0
    assert await conn.fetchval("SELECT count(*) FROM rate_limits") == 0


async def test_manage_links_in_my_rsvps_keep_working_after_rotation(
    client: httpx.AsyncClient, conn: asyncpg.Connection, database_url: str, settings
) -> None:
    owner = await sign_up(client, "Owner")
    member = await sign_up(client, "Member")
    org = await create_org(client, owner)
    event = await published_event(client, org, owner)
    created = await client.post(
        f"/v1/events/{event['id']}/rsvps", json={"alias": "Lupe"}, headers=member.headers
    )
    assert created.status_code == 201, created.text
    before = (await client.get("/v1/me/rsvps", headers=member.headers)).json()["items"]
    assert [i["manage_url"] for i in before] == [created.json()["manage_url"]]

    await rotate_master_key(conn, Keyring(settings.secret_key), Keyring(NEW_SECRET))

    async with app_with_secret(database_url, conn, NEW_SECRET) as rotated:
        mine = (await rotated.get("/v1/me/rsvps", headers=member.headers)).json()["items"]
        assert [i["manage_url"] for i in mine] == [created.json()["manage_url"]]
        token = mine[0]["manage_url"].rsplit("/", 1)[-1]
        view = await rotated.get(f"/v1/rsvps/manage/{token}")
        assert view.status_code == 200, view.text
        assert view.json()["rsvp"]["alias"] == "Lupe"
        changed = await rotated.patch(f"/v1/rsvps/manage/{token}", json={"guests": 1})
        assert changed.status_code == 200, changed.text


async def test_the_worker_can_still_put_an_anonymous_manage_link_into_a_message_after_rotation(
    client: httpx.AsyncClient, conn: asyncpg.Connection, database_url: str, settings
) -> None:
    owner = await sign_up(client, "Owner")
    org = await create_org(client, owner)
    event = await published_event(client, org, owner)
    created = await client.post(f"/v1/events/{event['id']}/rsvps", json={"alias": "Juan"})
    assert created.status_code == 201, created.text
    rsvp_id = UUID(created.json()["id"])

    new = Keyring(NEW_SECRET)
    await rotate_master_key(conn, Keyring(settings.secret_key), new)

    rotated_settings = settings_for(database_url, CARAVAN_SECRET_KEY=NEW_SECRET)
    link = await rsvp_manage.manage_link(conn, new, rotated_settings, rsvp_id)
    assert link == created.json()["manage_url"]
    async with app_with_secret(database_url, conn, NEW_SECRET) as rotated:
        view = await rotated.get(f"/v1/rsvps/manage/{link.rsplit('/', 1)[-1]}")
        assert view.status_code == 200 and view.json()["rsvp"]["alias"] == "Juan"

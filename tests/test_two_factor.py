"""Two-factor authentication: TOTP enrolment, login with codes, replay, recovery codes, and an
organization's requirement for its organizers and owners."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qs, urlsplit

import pytest

from api.services import two_factor
from tests.challenge_helpers import at_address
from tests.events_helpers import event_body, published_event
from tests.people import PASSWORD, create_org, join, sign_up
from tests.problems import assert_problem
from tests.test_two_factor_helpers import Phone, log_in, relog, turn_on_two_factor
from tests.trips_helpers import trip_body


@pytest.fixture
def phone(monkeypatch):
    return Phone(monkeypatch)


# ---------------------------------------------------------------- RFC 6238 itself


@pytest.mark.parametrize(
    ("unix_time", "expected"),
    [
        (59, "94287082"),
        (1111111109, "07081804"),
        (1111111111, "14050471"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
        (20000000000, "65353130"),
    ],
)
def test_totp_matches_the_rfc_6238_sha1_vectors(unix_time, expected):
    secret = b"12345678901234567890"
    step = two_factor.time_step(unix_time)
    assert two_factor.totp(secret, step, digits=8) == expected
    assert two_factor.totp(secret, step) == expected[-6:]


def test_totp_agrees_with_a_direct_hotp_computation():
    secret = bytes(range(20))
    for step in (0, 1, 56_789_012, 2**40):
        mac = hmac.new(secret, step.to_bytes(8, "big"), hashlib.sha1).digest()
        offset = mac[19] & 0xF
        value = int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF
        assert two_factor.totp(secret, step) == f"{value % 1_000_000:06d}"


# ---------------------------------------------------------------- enrolment


async def test_enrolment_gives_a_secret_and_turns_on_only_with_a_first_code(client, conn, phone):
    ana = await sign_up(client, "Ana")
    status = await client.get("/v1/me/two-factor", headers=ana.headers)
    assert status.json() == {"enabled": False, "recovery_codes_left": 0}
    started = await client.post("/v1/me/two-factor", headers=ana.headers)
    assert started.status_code == 201
    body = started.json()
    uri = urlsplit(body["otpauth_uri"])
    assert uri.scheme == "otpauth" and uri.netloc == "totp"
    query = parse_qs(uri.query)
    assert query["secret"] == [body["secret"]]
    assert query["digits"] == ["6"] and query["period"] == ["30"] and query["algorithm"] == ["SHA1"]
    assert len(two_factor.decode_secret(body["secret"])) == 20
    # pending: login still needs no code
    assert (await log_in(client, ana)).status_code == 201
    phone.scan(body)
    wrong = await client.post(
        "/v1/me/two-factor/confirm",
        json={"code": phone.code(5)},
        headers=ana.headers,
    )
    assert_problem(wrong, 422, "rule-violation", pointer="#/code")
    confirmed = await client.post(
        "/v1/me/two-factor/confirm", json={"code": phone.code()}, headers=ana.headers
    )
    assert confirmed.status_code == 200
    codes = confirmed.json()["codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    status = await client.get("/v1/me/two-factor", headers=ana.headers)
    assert status.json() == {"enabled": True, "recovery_codes_left": 10}
    again = await client.post("/v1/me/two-factor", headers=ana.headers)
    assert_problem(again, 409, "conflict", detail_contains="already on")


async def test_the_secret_is_sealed_and_recovery_codes_are_only_hashed(client, conn, phone):
    ana = await sign_up(client, "Ana")
    codes = await turn_on_two_factor(client, ana, phone)
    row = await conn.fetchrow(
        "SELECT secret_ciphertext FROM account_totp WHERE account_id = $1::uuid", ana.id
    )
    assert phone.secret not in row["secret_ciphertext"]
    assert two_factor.encode_secret(phone.secret).encode() not in row["secret_ciphertext"]
    stored = await conn.fetch(
        "SELECT code_hash FROM recovery_codes WHERE account_id = $1::uuid", ana.id
    )
    assert len(stored) == 10
    for code in codes:
        for variant in (code, code.replace("-", ""), code.upper()):
            assert all(variant.encode() not in r["code_hash"] for r in stored)
    key = await conn.fetchval(
        """
        SELECT count(*) FROM data_keys
         WHERE scope = 'account' AND scope_id = $1::uuid AND data_class = 'totp'
        """,
        ana.id,
    )
    assert key == 1


async def test_confirming_signs_out_sessions_opened_with_the_password_alone(client, phone):
    ana = await sign_up(client, "Ana")
    other = (await log_in(client, ana)).json()["token"]
    await turn_on_two_factor(client, ana, phone)
    assert (await client.get("/v1/me", headers=ana.headers)).status_code == 200
    stale = await client.get("/v1/me", headers={"Authorization": f"Bearer {other}"})
    assert_problem(stale, 401, "unauthorized")


# ---------------------------------------------------------------- login


async def test_login_asks_for_a_code_once_two_factor_is_on(client, phone):
    ana = await sign_up(client, "Ana")
    await turn_on_two_factor(client, ana, phone)
    without = await log_in(client, ana)
    assert_problem(without, 401, "two-factor-required", detail_contains="totp_code")
    assert "token" not in without.text
    with_code = await log_in(client, ana, totp_code=phone.code(), label="Laptop")
    assert with_code.status_code == 201
    assert with_code.json()["session"]["label"] == "Laptop"


async def test_a_wrong_password_says_nothing_about_two_factor(client, phone):
    ana = await sign_up(client, "Ana")
    await turn_on_two_factor(client, ana, phone)
    response = await client.post(
        "/v1/sessions", json={"email": ana.email, "password": "not the password at all"}
    )
    body = assert_problem(response, 401, "login-failed")
    assert "two-factor" not in body["detail"].lower()
    with_code = await client.post(
        "/v1/sessions",
        json={"email": ana.email, "password": "not the password", "totp_code": phone.code()},
    )
    assert_problem(with_code, 401, "login-failed")


async def test_wrong_codes_after_the_right_password_have_a_per_account_cap(
    app, client, phone, settings
):
    ana = await sign_up(client, "Ana")
    await turn_on_two_factor(client, ana, phone)
    wrong = phone.code(7)
    for _ in range(settings.totp_attempts_per_window):
        assert_problem(await log_in(client, ana, totp_code=wrong), 401, "two-factor-failed")
    # whoever holds the password cannot grind the code: even the right one waits now
    blocked = await log_in(client, ana, totp_code=phone.code())
    assert_problem(blocked, 429, "rate-limited", detail_contains="two-factor codes")
    assert int(blocked.headers["retry-after"]) > 0
    # the cap is on the account, not the client: another address is held back the same way
    async with at_address(app, "198.51.100.9") as other_network:
        other = await log_in(other_network, ana, totp_code=phone.code())
    assert_problem(other, 429, "rate-limited", detail_contains="two-factor codes")
    # and a wrong password is still only a wrong password (it tells nothing about the code)
    assert_problem(await log_in(client, ana, password="not the password"), 401, "login-failed")


async def test_a_code_is_accepted_within_one_step_of_drift(client, phone):
    ana = await sign_up(client, "Ana")
    await turn_on_two_factor(client, ana, phone)
    phone.tick(3)  # the confirming code's step is used; drift is measured from a fresh one
    assert (await log_in(client, ana, totp_code=phone.code(-1))).status_code == 201
    phone.tick(3)
    assert (await log_in(client, ana, totp_code=phone.code(1))).status_code == 201
    phone.tick(3)
    too_old = await log_in(client, ana, totp_code=phone.code(-2))
    assert_problem(too_old, 401, "two-factor-failed")


async def test_a_code_cannot_be_replayed_within_its_step(client, phone):
    ana = await sign_up(client, "Ana")
    await turn_on_two_factor(client, ana, phone)
    code = phone.code()
    assert (await log_in(client, ana, totp_code=code)).status_code == 201
    replay = await log_in(client, ana, totp_code=code)
    assert_problem(replay, 401, "two-factor-failed", detail_contains="already used")
    # nor an older code once a newer one was used
    phone.tick()
    assert (await log_in(client, ana, totp_code=phone.code())).status_code == 201
    older = await log_in(client, ana, totp_code=phone.code(-1))
    assert_problem(older, 401, "two-factor-failed")
    # the next step's code works
    phone.tick()
    assert (await log_in(client, ana, totp_code=phone.code())).status_code == 201


async def test_a_recovery_code_logs_in_once(client, conn, phone):
    ana = await sign_up(client, "Ana")
    codes = await turn_on_two_factor(client, ana, phone)
    first = await log_in(client, ana, recovery_code=codes[0].upper().replace("-", " "))
    assert first.status_code == 201
    again = await log_in(client, ana, recovery_code=codes[0])
    assert_problem(again, 401, "two-factor-failed")
    unknown = await log_in(client, ana, recovery_code="aaaaa-bbbbb")
    assert_problem(unknown, 401, "two-factor-failed")
    status = await client.get(
        "/v1/me/two-factor", headers={"Authorization": f"Bearer {first.json()['token']}"}
    )
    assert status.json()["recovery_codes_left"] == 9


async def test_new_recovery_codes_replace_the_old_set(client, phone):
    ana = await sign_up(client, "Ana")
    old = await turn_on_two_factor(client, ana, phone)
    wrong = await client.post(
        "/v1/me/two-factor/recovery-codes", json={"code": phone.code(7)}, headers=ana.headers
    )
    assert_problem(wrong, 422, "rule-violation", pointer="#/code")
    fresh = await client.post(
        "/v1/me/two-factor/recovery-codes", json={"code": phone.code()}, headers=ana.headers
    )
    assert fresh.status_code == 200
    assert not set(fresh.json()["codes"]) & set(old)
    assert_problem(await log_in(client, ana, recovery_code=old[1]), 401, "two-factor-failed")
    assert (await log_in(client, ana, recovery_code=fresh.json()["codes"][0])).status_code == 201


async def test_turning_two_factor_off_needs_the_password_and_a_code(client, conn, phone):
    ana = await sign_up(client, "Ana")
    await turn_on_two_factor(client, ana, phone)
    url = "/v1/me/two-factor/disable"
    no_code = await client.post(url, json={"password": PASSWORD}, headers=ana.headers)
    assert_problem(no_code, 401, "two-factor-failed")
    bad_password = await client.post(
        url, json={"password": "wrong password!", "totp_code": phone.code()}, headers=ana.headers
    )
    assert_problem(bad_password, 401, "password-wrong")
    off = await client.post(
        url, json={"password": PASSWORD, "totp_code": phone.code()}, headers=ana.headers
    )
    assert off.status_code == 204
    assert (await log_in(client, ana)).status_code == 201
    left = await conn.fetchval(
        """
        SELECT (SELECT count(*) FROM account_totp WHERE account_id = $1::uuid)
             + (SELECT count(*) FROM recovery_codes WHERE account_id = $1::uuid)
             + (SELECT count(*) FROM data_keys
                 WHERE scope = 'account' AND scope_id = $1::uuid AND data_class = 'totp')
        """,
        ana.id,
    )
    assert left == 0
    again = await client.post(url, json={"password": PASSWORD}, headers=ana.headers)
    assert_problem(again, 409, "conflict", detail_contains="already off")


async def test_two_factor_routes_need_a_session(client):
    assert_problem(await client.get("/v1/me/two-factor"), 401, "unauthorized")
    assert_problem(await client.post("/v1/me/two-factor"), 401, "unauthorized")
    bad = await client.post(
        "/v1/me/two-factor/confirm",
        json={"code": "12345"},
        headers=(await sign_up(client, "Ana")).headers,
    )
    assert_problem(bad, 400, "invalid-request", pointer="#/code")


async def test_confirming_without_enrolment_conflicts(client):
    ana = await sign_up(client, "Ana")
    response = await client.post(
        "/v1/me/two-factor/confirm", json={"code": "123456"}, headers=ana.headers
    )
    assert_problem(response, 409, "conflict", detail_contains="POST /v1/me/two-factor")


# ---------------------------------------------------------------- the org's requirement


@pytest.fixture
async def crew(client, monkeypatch):
    """An owner with two-factor on (and their phone), an organizer and a member without it."""
    phone = Phone(monkeypatch)
    owner = await sign_up(client, "Owner")
    organizer = await sign_up(client, "Organizer")
    member = await sign_up(client, "Member")
    org = await create_org(client, owner, "two-factor-org")
    await join(client, org, owner, organizer, "organizer")
    await join(client, org, owner, member, "member")
    await turn_on_two_factor(client, owner, phone)
    return {"org": org, "owner": owner, "organizer": organizer, "member": member, "phone": phone}


async def test_only_an_owner_with_two_factor_can_require_it(client, crew, monkeypatch):
    url = f"/v1/orgs/{crew['org']['slug']}"
    by_organizer = await client.patch(
        url, json={"require_two_factor": True}, headers=crew["organizer"].headers
    )
    assert_problem(by_organizer, 403, "forbidden", detail_contains="owner")
    other_owner = await sign_up(client, "Second owner")
    await join(client, crew["org"], crew["owner"], other_owner, "owner")
    without = await client.patch(
        url, json={"require_two_factor": True}, headers=other_owner.headers
    )
    assert_problem(without, 409, "conflict", detail_contains="your own account first")
    done = await client.patch(url, json={"require_two_factor": True}, headers=crew["owner"].headers)
    assert done.status_code == 200
    assert done.json()["require_two_factor"] is True
    assert (await client.get(url)).json()["require_two_factor"] is True


async def test_a_required_org_refuses_organizers_without_two_factor(client, crew, monkeypatch):
    slug = crew["org"]["slug"]
    await client.patch(
        f"/v1/orgs/{slug}", json={"require_two_factor": True}, headers=crew["owner"].headers
    )
    organizer = crew["organizer"]
    for method, path, body in (
        ("GET", f"/v1/orgs/{slug}/members", None),
        ("PATCH", f"/v1/orgs/{slug}", {"description": "x"}),
        ("POST", f"/v1/orgs/{slug}/events", event_body()),
    ):
        response = await client.request(method, path, json=body, headers=organizer.headers)
        assert_problem(
            response, 403, "two-factor-required-by-org", detail_contains="/v1/me/two-factor"
        )
    # once the organizer turns it on, the same routes answer
    organizer_phone = Phone(monkeypatch, step=crew["phone"].step + 100)
    await turn_on_two_factor(client, organizer, organizer_phone)
    listed = await client.get(f"/v1/orgs/{slug}/members", headers=organizer.headers)
    assert listed.status_code == 200


async def test_a_required_org_does_not_ask_it_of_members(client, crew):
    slug = crew["org"]["slug"]
    await client.patch(
        f"/v1/orgs/{slug}", json={"require_two_factor": True}, headers=crew["owner"].headers
    )
    owner = crew["owner"]
    assert (await client.get(f"/v1/orgs/{slug}/members", headers=owner.headers)).status_code == 200
    event = await published_event(client, crew["org"], owner)
    member = crew["member"]
    rsvp = await client.post(
        f"/v1/events/{event['id']}/rsvps", json={"alias": "M"}, headers=member.headers
    )
    assert rsvp.status_code == 201, rsvp.text
    # a member still sees the member-level answer for organizer routes, not the 2FA one
    assert_problem(
        await client.get(f"/v1/orgs/{slug}/members", headers=member.headers), 403, "forbidden"
    )
    leave = await client.delete(f"/v1/orgs/{slug}/members/{member.id}", headers=member.headers)
    assert leave.status_code == 204


async def test_the_requirement_change_is_audited(client, conn, crew):
    slug = crew["org"]["slug"]
    await client.patch(
        f"/v1/orgs/{slug}", json={"require_two_factor": True}, headers=crew["owner"].headers
    )
    row = await conn.fetchrow(
        """
        SELECT actor_id, detail FROM audit_log
         WHERE org_id = $1::uuid AND action = 'org.two_factor_requirement_changed'
        """,
        crew["org"]["id"],
    )
    assert str(row["actor_id"]) == crew["owner"].id
    assert row["detail"] == {"from": False, "to": True}


async def test_relogging_with_two_factor_keeps_organizer_access(client, crew):
    slug = crew["org"]["slug"]
    await client.patch(
        f"/v1/orgs/{slug}", json={"require_two_factor": True}, headers=crew["owner"].headers
    )
    owner = await relog(client, crew["owner"], crew["phone"])
    assert (await client.get(f"/v1/orgs/{slug}/members", headers=owner.headers)).status_code == 200


async def test_a_required_org_refuses_organizers_reached_through_an_event_or_trip(
    client, conn, crew, monkeypatch
):
    """Organizer checks that start from an event or trip id apply the org's requirement too."""
    slug = crew["org"]["slug"]
    event = await published_event(client, crew["org"], crew["owner"])
    trip = await client.post(
        f"/v1/orgs/{slug}/trips", json=trip_body(), headers=crew["owner"].headers
    )
    assert trip.status_code == 201, trip.text
    await client.patch(
        f"/v1/orgs/{slug}", json={"require_two_factor": True}, headers=crew["owner"].headers
    )
    organizer = crew["organizer"]
    for method, path, body in (
        ("GET", f"/v1/events/{event['id']}/rsvps", None),
        ("PATCH", f"/v1/events/{event['id']}", {"accessibility_notes": "Ramp at the side"}),
        ("PATCH", f"/v1/trips/{trip.json()['id']}", {"promote_from_waitlist": False}),
    ):
        response = await client.request(method, path, json=body, headers=organizer.headers)
        assert_problem(response, 403, "two-factor-required-by-org", detail_contains=slug)
    owner = await relog(client, crew["owner"], crew["phone"])
    listed = await client.get(f"/v1/events/{event['id']}/rsvps", headers=owner.headers)
    assert listed.status_code == 200

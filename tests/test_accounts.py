"""Sign-up, login, logout, expiry, revocation and the caller's profile."""

from __future__ import annotations

from tests.people import PASSWORD, sign_up
from tests.problems import assert_problem


async def test_sign_up_returns_the_account_without_secrets(client):
    response = await client.post(
        "/v1/accounts",
        json={"email": "Ana@Example.org", "display_name": "Ana", "password": PASSWORD},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "ana@example.org"
    assert body["display_name"] == "Ana"
    assert set(body) == {"id", "email", "display_name", "created_at"}


async def test_emails_are_compared_case_insensitively(client):
    await sign_up(client, "Bea")
    first = await client.post(
        "/v1/accounts",
        json={"email": "luz@example.org", "display_name": "Luz", "password": PASSWORD},
    )
    assert first.status_code == 201
    again = await client.post(
        "/v1/accounts",
        json={"email": "LUZ@example.ORG", "display_name": "Luz 2", "password": PASSWORD},
    )
    assert_problem(again, 409, "conflict", detail_contains="already exists")
    login = await client.post(
        "/v1/sessions", json={"email": "Luz@Example.org", "password": PASSWORD}
    )
    assert login.status_code == 201


async def test_email_and_password_are_not_stored_in_plaintext(client, conn):
    person = await sign_up(client, "Carmen")
    row = await conn.fetchrow(
        "SELECT email_lookup, email_ciphertext, password_hash FROM accounts WHERE id = $1::uuid",
        person.id,
    )
    assert person.email.encode() not in row["email_ciphertext"]
    assert person.email.encode() not in row["email_lookup"]
    assert row["password_hash"].startswith("$argon2id$")
    assert PASSWORD not in row["password_hash"]


async def test_session_tokens_are_stored_only_as_hashes(client, conn):
    person = await sign_up(client, "Dora")
    stored = await conn.fetch(
        "SELECT token_hash FROM sessions WHERE account_id = $1::uuid", person.id
    )
    assert len(stored) == 1
    assert person.token.encode() not in stored[0]["token_hash"]
    assert person.token.startswith("cvn_sess_") and len(person.token) >= 43


async def test_me_needs_a_valid_token(client):
    assert_problem(await client.get("/v1/me"), 401, "unauthorized")
    bad = await client.get("/v1/me", headers={"Authorization": "Bearer cvn_sess_nope"})
    assert_problem(bad, 401, "unauthorized", detail_contains="log in again")
    basic = await client.get("/v1/me", headers={"Authorization": "Basic abc"})
    assert_problem(basic, 401, "unauthorized")


async def test_me_shows_and_updates_the_profile(client):
    person = await sign_up(client, "Elena")
    me = await client.get("/v1/me", headers=person.headers)
    assert me.json()["email"] == person.email
    changed = await client.patch(
        "/v1/me", json={"display_name": "Elena G."}, headers=person.headers
    )
    assert changed.status_code == 200
    assert changed.json()["display_name"] == "Elena G."
    assert changed.json()["email"] == person.email


async def test_changing_email_to_one_in_use_conflicts(client):
    a = await sign_up(client, "Fer")
    b = await sign_up(client, "Gabi")
    response = await client.patch("/v1/me", json={"email": b.email.upper()}, headers=a.headers)
    assert_problem(response, 409, "conflict")


async def test_logout_revokes_the_token_at_once(client):
    person = await sign_up(client, "Hilda")
    assert (await client.delete("/v1/sessions/current", headers=person.headers)).status_code == 204
    assert_problem(await client.get("/v1/me", headers=person.headers), 401)


async def test_revoked_and_expired_sessions_are_deleted_not_kept(client, conn):
    person = await sign_up(client, "Ines")
    await client.delete("/v1/sessions/current", headers=person.headers)
    count = await conn.fetchval(
        "SELECT count(*) FROM sessions WHERE account_id = $1::uuid", person.id
    )
    assert count == 0


async def test_expired_session_is_refused(client, conn):
    person = await sign_up(client, "Juana")
    await conn.execute(
        "UPDATE sessions SET expires_at = now() - interval '1 second' WHERE account_id = $1::uuid",
        person.id,
    )
    assert_problem(await client.get("/v1/me", headers=person.headers), 401)
    # a new login clears the expired row
    await client.post("/v1/sessions", json={"email": person.email, "password": PASSWORD})
    expired = await conn.fetchval(
        "SELECT count(*) FROM sessions WHERE account_id = $1::uuid AND expires_at <= now()",
        person.id,
    )
    assert expired == 0


async def test_session_list_marks_the_current_one_and_can_revoke_another(client):
    person = await sign_up(client, "Karla")
    phone = await client.post(
        "/v1/sessions", json={"email": person.email, "password": PASSWORD, "label": "Phone"}
    )
    phone_token = phone.json()["token"]
    listed = await client.get("/v1/me/sessions", headers=person.headers)
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert len(items) == 2
    assert sum(1 for s in items if s["current"]) == 1
    phone_id = next(s["id"] for s in items if s["label"] == "Phone")
    assert set(items[0]) == {"id", "label", "expires_at", "current"}
    revoked = await client.delete(f"/v1/me/sessions/{phone_id}", headers=person.headers)
    assert revoked.status_code == 204
    gone = await client.get("/v1/me", headers={"Authorization": f"Bearer {phone_token}"})
    assert_problem(gone, 401)
    again = await client.delete(f"/v1/me/sessions/{phone_id}", headers=person.headers)
    assert_problem(again, 404, "not-found")


async def test_cannot_revoke_someone_elses_session(client):
    a = await sign_up(client, "Lola")
    b = await sign_up(client, "Mara")
    b_sessions = (await client.get("/v1/me/sessions", headers=b.headers)).json()["items"]
    response = await client.delete(f"/v1/me/sessions/{b_sessions[0]['id']}", headers=a.headers)
    assert_problem(response, 404)
    assert (await client.get("/v1/me", headers=b.headers)).status_code == 200


async def test_password_change_signs_out_other_sessions(client):
    person = await sign_up(client, "Nora")
    other = await client.post("/v1/sessions", json={"email": person.email, "password": PASSWORD})
    other_headers = {"Authorization": f"Bearer {other.json()['token']}"}
    wrong = await client.post(
        "/v1/me/password",
        json={"current_password": "not the password", "new_password": "another long password"},
        headers=person.headers,
    )
    assert_problem(wrong, 401)
    changed = await client.post(
        "/v1/me/password",
        json={"current_password": PASSWORD, "new_password": "another long password"},
        headers=person.headers,
    )
    assert changed.status_code == 204
    assert (await client.get("/v1/me", headers=person.headers)).status_code == 200
    assert_problem(await client.get("/v1/me", headers=other_headers), 401)
    old = await client.post("/v1/sessions", json={"email": person.email, "password": PASSWORD})
    assert_problem(old, 401)
    new = await client.post(
        "/v1/sessions", json={"email": person.email, "password": "another long password"}
    )
    assert new.status_code == 201


async def test_login_failure_says_the_same_for_unknown_email_and_wrong_password(client):
    person = await sign_up(client, "Olga")
    wrong_password = await client.post(
        "/v1/sessions", json={"email": person.email, "password": "wrong password!"}
    )
    unknown_email = await client.post(
        "/v1/sessions", json={"email": "nobody@example.org", "password": "wrong password!"}
    )
    a = assert_problem(wrong_password, 401, "login-failed")
    b = assert_problem(unknown_email, 401, "login-failed")
    assert a == b


async def test_repeated_login_failures_ask_that_client_for_a_challenge(client, settings):
    person = await sign_up(client, "Paula")
    for _ in range(settings.login_attempts_per_window):
        failed = await client.post(
            "/v1/sessions", json={"email": person.email, "password": "wrong!"}
        )
        assert failed.status_code == 401
    asked = await client.post(
        "/v1/sessions", json={"email": person.email.upper(), "password": PASSWORD}
    )
    body = assert_problem(asked, 428, "challenge-required")
    assert "GET /v1/challenges" in body["detail"]
    # another email is not affected
    other = await sign_up(client, "Quela")
    assert (await client.get("/v1/me", headers=other.headers)).status_code == 200


async def test_rate_limit_buckets_hold_no_email(client, conn):
    await client.post(
        "/v1/sessions", json={"email": "zed@example.org", "password": "wrong password"}
    )
    buckets = await conn.fetch("SELECT bucket FROM rate_limits")
    assert buckets and all(b"zed" not in b["bucket"] for b in buckets)


async def test_sign_up_validates_each_field(client):
    response = await client.post(
        "/v1/accounts", json={"email": "not-an-email", "display_name": "", "password": "short"}
    )
    body = assert_problem(response, 400, "invalid-request")
    assert body["errors"], body
    assert body["errors"][0]["pointer"] in {"#/email", "#/display_name", "#/password"}


async def test_sign_up_rejects_unknown_fields(client):
    response = await client.post(
        "/v1/accounts",
        json={
            "email": "r@example.org",
            "display_name": "R",
            "password": PASSWORD,
            "is_admin": True,
        },
    )
    assert_problem(response, 400, pointer="#/is_admin")

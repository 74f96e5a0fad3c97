"""Webhooks: Standard Webhooks signatures, thin payloads, retries, 410, timeouts, the log."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from api.services import webhook_delivery, webhook_fanout, webhook_signing
from tests.events_helpers import published_event
from tests.people import create_org, join, sign_up
from tests.problems import assert_problem
from tests.test_partner_helpers import (
    assert_no_personal_data,
    issue_key,
    rsvp_with_personal_data,
)
from tests.test_webhooks_helpers import (
    LoopbackServer,
    Reply,
    loopback_client,
    loopback_settings,
    register_endpoint,
    worker_round,
)


@pytest.fixture
def loop_settings(settings):
    return loopback_settings(settings)


@pytest.fixture
async def hook_client(loop_settings, conn):
    async with loopback_client(loop_settings, conn) as http:
        yield http


def _verify(secret: str, request) -> dict:
    return Webhook(secret).verify(request.body, request.headers)  # type: ignore[no-any-return]


async def test_an_endpoint_gets_a_secret_shown_once_and_sealed_at_rest(hook_client, conn):
    owner = await sign_up(hook_client, "Owner")
    org = await create_org(hook_client, owner)
    created = await register_endpoint(hook_client, org, owner, "https://partner.example/hook")
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    listed = await hook_client.get(f"/v1/orgs/{org['slug']}/webhooks", headers=owner.headers)
    assert listed.status_code == 200 and secret not in listed.text
    one = await hook_client.get(
        f"/v1/orgs/{org['slug']}/webhooks/{created['endpoint']['id']}", headers=owner.headers
    )
    assert one.json()["enabled"] is True and "secret" not in one.json()
    raw = repr(
        [dict(r) for r in await conn.fetch("SELECT * FROM webhook_endpoints")]
        + [dict(r) for r in await conn.fetch("SELECT * FROM data_keys")]
    )
    assert secret not in raw and secret.removeprefix("whsec_") not in raw
    second = await register_endpoint(hook_client, org, owner, "https://partner.example/hook2")
    assert second["secret"] != secret


@pytest.mark.parametrize(
    "url",
    [
        "http://partner.example/hook",
        "https://partner.example:8443/hook",
        "https://10.0.0.7/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://user:pw@partner.example/hook",
        "ftp://partner.example/hook",
    ],
)
async def test_endpoints_must_be_https_on_443_at_a_public_address(client, url):
    owner = await sign_up(client, "Owner")
    org = await create_org(client, owner)
    response = await client.post(
        f"/v1/orgs/{org['slug']}/webhooks",
        json={"url": url, "event_types": ["event.updated"]},
        headers=owner.headers,
    )
    assert_problem(response, 422, "rule-violation", pointer="#/url")


async def test_loopback_receivers_need_the_test_setting(client):
    owner = await sign_up(client, "Owner")
    org = await create_org(client, owner)
    response = await client.post(
        f"/v1/orgs/{org['slug']}/webhooks",
        json={"url": "http://127.0.0.1:9/hook", "event_types": ["event.updated"]},
        headers=owner.headers,
    )
    assert_problem(response, 422, "rule-violation")


async def test_deliveries_are_signed_thin_and_carry_no_personal_data(
    hook_client, conn, loop_settings
):
    owner = await sign_up(hook_client, "Owner")
    org = await create_org(hook_client, owner)
    async with LoopbackServer() as receiver:
        secret = (await register_endpoint(hook_client, org, owner, receiver.url + "/hook"))[
            "secret"
        ]
        event = await published_event(hook_client, org, owner, capacity=10)
        await rsvp_with_personal_data(hook_client, event)
        await hook_client.patch(
            f"/v1/events/{event['id']}", json={"title": {"en": "New"}}, headers=owner.headers
        )
        await hook_client.post(
            f"/v1/events/{event['id']}/cancel", json={"reason": "Storm"}, headers=owner.headers
        )
        assert await worker_round(conn, loop_settings) > 0
        assert await worker_round(conn, loop_settings) == 0

    payloads = [_verify(secret, r) for r in receiver.received]
    types = [p["type"] for p in payloads]
    assert types[0] == "event.created"
    assert types.count("rsvp.counts_changed") == 2
    assert types[-1] == "event.cancelled" and "event.updated" in types
    counts = [p["data"] for p in payloads if p["type"] == "rsvp.counts_changed"]
    assert counts[-1]["going"] == 2 and counts[-1]["event_id"] == event["id"]
    created = payloads[0]
    assert set(created) == {"type", "timestamp", "data"}
    assert set(created["data"]) == {"id", "org", "status", "sequence", "change_seq", "url"}
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert len(set(ids)) == len(ids) and all("." not in i for i in ids)
    for request in receiver.received:
        assert request.method == "POST"
        assert request.headers["content-type"] == "application/json"
        assert request.headers["webhook-signature"].startswith("v1,")
        assert int(request.headers["webhook-timestamp"]) > 0
        assert len(request.body) < 20_000
        assert_no_personal_data(request.body.decode())
    # one flipped byte, or another secret, fails verification
    tampered = receiver.received[0]
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(tampered.body.replace(b"event", b"evenT", 1), tampered.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(webhook_signing.new_secret()).verify(tampered.body, tampered.headers)


async def test_only_public_events_are_announced_and_hidden_ones_are_deleted(
    hook_client, conn, loop_settings
):
    owner = await sign_up(hook_client, "Owner")
    org = await create_org(hook_client, owner)
    async with LoopbackServer() as receiver:
        secret = (await register_endpoint(hook_client, org, owner, receiver.url))["secret"]
        await published_event(hook_client, org, owner, visibility="members")
        public = await published_event(hook_client, org, owner)
        await worker_round(conn, loop_settings)
        await hook_client.patch(
            f"/v1/events/{public['id']}", json={"visibility": "private"}, headers=owner.headers
        )
        await worker_round(conn, loop_settings)
    payloads = [_verify(secret, r) for r in receiver.received]
    # the members-only event never shows; the public one is created, then deleted when hidden
    assert {p["data"]["id"] for p in payloads} == {public["id"]}
    assert payloads[0]["type"] == "event.created"
    assert payloads[-1] == {
        "type": "event.deleted",
        "timestamp": payloads[-1]["timestamp"],
        "data": {"id": public["id"], "reason": "not_public"},
    }


async def test_a_failing_receiver_is_retried_under_the_same_webhook_id(
    hook_client, conn, loop_settings
):
    answers = [
        Reply(500, body=b"receiver-secret-body"),
        Reply(429, {"retry-after": "3600"}),
        Reply(200),
    ]
    owner = await sign_up(hook_client, "Owner")
    org = await create_org(hook_client, owner)
    async with LoopbackServer(lambda _: answers.pop(0)) as receiver:
        endpoint = await register_endpoint(hook_client, org, owner, receiver.url, ["event.created"])
        await published_event(hook_client, org, owner)
        await worker_round(conn, loop_settings)  # 500
        row = await conn.fetchrow(
            "SELECT status, attempts, next_attempt_at - now() AS wait FROM webhook_deliveries"
        )
        assert (row["status"], row["attempts"]) == ("pending", 1)
        await worker_round(conn, loop_settings)  # 429, Retry-After honoured
        row = await conn.fetchrow(
            "SELECT status, attempts, next_attempt_at - now() AS wait FROM webhook_deliveries"
        )
        assert (row["status"], row["attempts"]) == ("pending", 2)
        assert row["wait"].total_seconds() > 3500
        assert await worker_round(conn, loop_settings) == 0  # not due yet
        await conn.execute("UPDATE webhook_deliveries SET next_attempt_at = now()")
        await worker_round(conn, loop_settings)  # 200
    ids = {r.headers["webhook-id"] for r in receiver.received}
    assert len(receiver.received) == 3 and len(ids) == 1
    log = await hook_client.get(
        f"/v1/orgs/{org['slug']}/webhooks/{endpoint['endpoint']['id']}/deliveries",
        headers=owner.headers,
    )
    (delivery,) = log.json()["items"]
    assert delivery["status"] == "succeeded" and delivery["attempts"] == 3
    assert delivery["webhook_id"] in ids and delivery["next_attempt_at"] is None
    assert delivery["last_status_code"] == 200
    # the receiver's response bodies are never kept
    raw = repr([dict(r) for r in await conn.fetch("SELECT * FROM webhook_deliveries")])
    assert "receiver-secret-body" not in raw


async def test_410_disables_the_endpoint(hook_client, conn, loop_settings):
    owner = await sign_up(hook_client, "Owner")
    org = await create_org(hook_client, owner)
    async with LoopbackServer(lambda _: Reply(410)) as receiver:
        endpoint = await register_endpoint(hook_client, org, owner, receiver.url)
        # two messages are due (created, then updated when published): the 410 stops both
        await published_event(hook_client, org, owner)
        await worker_round(conn, loop_settings)
        await published_event(hook_client, org, owner)
        await worker_round(conn, loop_settings)
    assert len(receiver.received) == 1
    path = f"/v1/orgs/{org['slug']}/webhooks/{endpoint['endpoint']['id']}"
    shown = (await hook_client.get(path, headers=owner.headers)).json()
    assert shown["enabled"] is False and "410" in shown["disabled_reason"]
    log = (await hook_client.get(path + "/deliveries", headers=owner.headers)).json()["items"]
    assert sorted(d["status"] for d in log) == ["failed", "pending"]
    enabled = await hook_client.patch(path, json={"enabled": True}, headers=owner.headers)
    assert enabled.json()["enabled"] is True and enabled.json()["disabled_reason"] is None


async def test_a_hanging_receiver_times_out_and_is_retried(hook_client, conn, loop_settings):
    owner = await sign_up(hook_client, "Owner")
    org = await create_org(hook_client, owner)
    quick = webhook_delivery.DeliveryPolicy(schedule=(0.0,) * 9, jitter=0.0, timeout_s=0.3)
    async with LoopbackServer(lambda _: Reply(200, delay=3.0)) as receiver:
        await register_endpoint(hook_client, org, owner, receiver.url)
        await published_event(hook_client, org, owner)
        await webhook_fanout.fan_out(conn, loop_settings.public_url)
        await worker_round(conn, loop_settings, quick)
    row = await conn.fetchrow("SELECT status, attempts, last_error FROM webhook_deliveries")
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert "within 0.3 s" in row["last_error"]
    assert webhook_delivery.DeliveryPolicy().timeout_s <= 15


def test_the_retry_schedule_backs_off_with_jitter_for_more_than_a_day():
    policy = webhook_delivery.DeliveryPolicy()
    assert sum(policy.schedule) >= 24 * 3600
    assert list(policy.schedule) == sorted(policy.schedule)
    delays = [policy.delay(1, None) for _ in range(50)]
    assert all(4.0 <= d <= 6.0 for d in delays) and len(set(delays)) > 1
    assert policy.delay(len(policy.schedule) + 1, None) is None
    assert policy.delay(1, 120.0) >= 120.0


async def test_exhausted_retries_fail_disable_and_can_be_redelivered(
    hook_client, conn, loop_settings
):
    owner = await sign_up(hook_client, "Owner")
    org = await create_org(hook_client, owner)
    short = webhook_delivery.DeliveryPolicy(schedule=(0.0,), jitter=0.0, timeout_s=2.0)
    answers = [Reply(503), Reply(502), Reply(204)]
    async with LoopbackServer(lambda _: answers.pop(0)) as receiver:
        endpoint = await register_endpoint(hook_client, org, owner, receiver.url, ["event.created"])
        await published_event(hook_client, org, owner)
        await worker_round(conn, loop_settings, short)
        await worker_round(conn, loop_settings, short)
        path = f"/v1/orgs/{org['slug']}/webhooks/{endpoint['endpoint']['id']}"
        (failed,) = (await hook_client.get(path + "/deliveries", headers=owner.headers)).json()[
            "items"
        ]
        assert failed["status"] == "failed" and failed["attempts"] == 2
        assert (await hook_client.get(path, headers=owner.headers)).json()["enabled"] is False
        audit = await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE action = 'webhook.disabled'"
        )
        assert audit == 1

        again = await hook_client.post(
            f"{path}/deliveries/{failed['id']}/redeliver", headers=owner.headers
        )
        assert again.status_code == 202 and again.json()["status"] == "pending"
        await hook_client.patch(path, json={"enabled": True}, headers=owner.headers)
        await worker_round(conn, loop_settings, short)
        conflict = await hook_client.post(
            f"{path}/deliveries/{failed['id']}/redeliver", headers=owner.headers
        )
        assert_problem(conflict, 409, "conflict")
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert len(ids) == 3 and len(set(ids)) == 1
    done = (await hook_client.get(path + "/deliveries", headers=owner.headers)).json()["items"]
    assert done[0]["status"] == "succeeded" and done[0]["attempts"] == 3


async def test_send_test_event(hook_client, conn, loop_settings):
    owner = await sign_up(hook_client, "Owner")
    org = await create_org(hook_client, owner)
    async with LoopbackServer() as receiver:
        created = await register_endpoint(hook_client, org, owner, receiver.url, ["event.deleted"])
        path = f"/v1/orgs/{org['slug']}/webhooks/{created['endpoint']['id']}"
        queued = await hook_client.post(path + "/test", headers=owner.headers)
        assert queued.status_code == 202 and queued.json()["event_type"] == "webhook.test"
        await worker_round(conn, loop_settings)
    (request,) = receiver.received
    payload = _verify(created["secret"], request)
    assert payload["type"] == "webhook.test"
    assert payload["data"] == {"endpoint_id": created["endpoint"]["id"]}
    assert json.loads(request.body) == payload


async def test_who_manages_webhooks(hook_client):
    owner = await sign_up(hook_client, "Owner")
    member = await sign_up(hook_client, "Member")
    org = await create_org(hook_client, owner)
    await join(hook_client, org, owner, member, "member")
    path = f"/v1/orgs/{org['slug']}/webhooks"
    assert_problem(await hook_client.get(path), 401)
    assert_problem(await hook_client.get(path, headers=member.headers), 403, "forbidden")
    key = await issue_key(hook_client, org, owner, "webhooks:manage")
    created = await hook_client.post(
        path,
        json={"url": "https://partner.example/x", "event_types": ["ride.*"]},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert created.status_code == 201, created.text
    assert created.headers["ratelimit-limit"]
    one = f"{path}/{created.json()['endpoint']['id']}"
    deleted = await hook_client.delete(one, headers={"Authorization": f"Bearer {key}"})
    assert deleted.status_code == 204
    assert_problem(await hook_client.get(one, headers=owner.headers), 404, "not-found")


async def test_trip_and_ride_messages_are_thin_and_follow_visibility(
    hook_client, conn, loop_settings
):
    owner = await sign_up(hook_client, "Owner")
    org = await create_org(hook_client, owner)
    public = await published_event(hook_client, org, owner)
    members = await published_event(hook_client, org, owner, visibility="members")
    async with LoopbackServer() as receiver:
        types = ["ride.*", "trip.updated"]
        secret = (await register_endpoint(hook_client, org, owner, receiver.url, types))["secret"]
        offer_id, hidden_offer = uuid.uuid4(), uuid.uuid4()
        personal = {"rider": "Tomás Xocoyotzin", "pickup": "Calle 5", "phone": "+52 664 555 0199"}
        for topic, subject, payload in (
            ("ride.booked", offer_id, {"event_id": public["id"], "seats_free": 2, **personal}),
            ("ride.booked", hidden_offer, {"event_id": members["id"], "seats_free": 1}),
            ("trip.updated", uuid.uuid4(), {"status": "open", **personal}),  # no public trip
            ("shift.updated", offer_id, {"event_id": public["id"]}),  # not a webhook type
        ):
            await conn.execute(
                "INSERT INTO outbox (org_id, topic, subject_id, payload) VALUES ($1, $2, $3, $4)",
                uuid.UUID(org["id"]),
                topic,
                subject,
                payload,
            )
        await worker_round(conn, loop_settings)
    payloads = [_verify(secret, r) for r in receiver.received]
    assert [p["type"] for p in payloads] == ["ride.booked"]
    assert payloads[0]["data"] == {"id": str(offer_id), "event_id": public["id"], "seats_free": 2}
    for request in receiver.received:
        assert_no_personal_data(request.body.decode())
        assert b"Calle 5" not in request.body

"""Nothing identifying in logs or the database: no client address, no secret, no login trail."""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from api.request_log import UNMATCHED, logging_config
from tests.conftest import create_test_database, drop_test_database
from tests.events_helpers import event_body, in_days
from tests.live_server import LiveServer
from tests.people import PASSWORD

FORWARDED_FOR = "203.0.113.77"
IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
IPV6_LOOPBACK = re.compile(r"(?<![:\w])::1(?![:\w])")


def pg_dump_binary() -> str | None:
    """The system pg_dump, else the one bundled with the embedded server (pgserver)."""
    found = shutil.which("pg_dump")
    if found:
        return found
    try:
        import pgserver
    except ImportError:
        return None
    bundled = Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_dump"
    return str(bundled) if bundled.exists() else None


def pg_dump(binary: str, database_url: str) -> str:
    parts = urlsplit(database_url)
    result = subprocess.run(
        [binary, "--no-owner", "--dbname", database_url],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0 and "server version mismatch" in result.stderr:
        pytest.skip(f"pg_dump is older than the server at {parts.hostname}: {result.stderr}")
    assert result.returncode == 0, result.stderr
    return result.stdout


async def test_secrets_in_paths_reach_neither_the_logs_nor_the_database(tmp_path):
    binary = pg_dump_binary()
    if binary is None:
        pytest.skip("no pg_dump binary on this machine (neither on PATH nor bundled with pgserver)")
    database_url = await create_test_database("caravan_logs")
    log_path = tmp_path / "serve.log"
    server = LiveServer(database_url, log_path)
    secrets: dict[str, str] = {}
    try:
        await server.start()
        headers = {"X-Forwarded-For": FORWARDED_FOR, "User-Agent": "LogProbe/1.0"}
        async with httpx.AsyncClient(base_url=server.base_url, headers=headers) as http:
            email = "logs.probe@example.org"
            created = await http.post(
                "/v1/accounts",
                json={"email": email, "display_name": "Probe", "password": PASSWORD},
            )
            assert created.status_code == 201, created.text
            login = await http.post("/v1/sessions", json={"email": email, "password": PASSWORD})
            assert login.status_code == 201, login.text
            secrets["session token"] = login.json()["token"]
            auth = {"Authorization": f"Bearer {secrets['session token']}"}

            org = await http.post(
                "/v1/orgs",
                json={"slug": "logs-org", "name": "Logs", "timezone": "UTC"},
                headers=auth,
            )
            assert org.status_code == 201, org.text
            private = await http.post(
                "/v1/orgs/logs-org/events",
                json=event_body(visibility="private", starts_at=in_days(3)),
                headers=auth,
            )
            assert private.status_code == 201, private.text
            event = private.json()
            assert (await http.post(f"/v1/events/{event['id']}/publish", headers=auth)).is_success
            share_token = event["share_url"].rsplit("/", 1)[-1]
            secrets["share token"] = share_token

            rsvp = await http.post(
                f"/v1/events/{event['id']}/rsvps",
                json={"alias": "Luz", "share_token": share_token},
                headers={"Idempotency-Key": "logs-probe-key-1"},
            )
            assert rsvp.status_code == 201, rsvp.text
            secrets["manage token"] = rsvp.json()["manage_token"]

            feed = await http.post("/v1/me/feed-tokens", json={"label": "phone"}, headers=auth)
            if feed.status_code == 201:
                secrets["feed token"] = feed.json()["token"]
            key = await http.post(
                "/v1/orgs/logs-org/api-keys",
                json={"name": "Coalition site", "scopes": ["events:read"]},
                headers=auth,
            )
            assert key.status_code == 201, key.text
            secrets["API key"] = key.json()["key"]
            hook = await http.post(
                "/v1/orgs/logs-org/webhooks",
                json={"url": "https://partner.example/hooks", "event_types": ["event.created"]},
                headers=auth,
            )
            assert hook.status_code == 201, hook.text
            secrets["webhook secret"] = hook.json()["secret"]
            partner = await http.get(
                "/v1/partner/events", headers={"Authorization": f"Bearer {secrets['API key']}"}
            )
            assert partner.status_code == 200, partner.text

            paths = [
                f"/v1/events/shared/{share_token}",
                f"/v1/rsvps/manage/{secrets['manage token']}",
                f"/v1/rsvps/manage/{secrets['manage token']}/calendar.ics",
                f"/v1/rsvps/manage/{secrets['manage token']}?lang=es",
                # a wrong secret, and a path no route matches, must not be written either
                f"/v1/rsvps/manage/{secrets['manage token']}x",
                f"/v1/no-such-route/{secrets['manage token']}",
            ]
            if "feed token" in secrets:
                paths.append(f"/v1/feeds/{secrets['feed token']}/calendar.ics")
            for path in paths:
                response = await http.get(path, headers=auth)
                assert response.status_code < 500, (path, response.status_code)
            patched = await http.patch(
                f"/v1/rsvps/manage/{secrets['manage token']}", json={"alias": "Luz M."}
            )
            assert patched.status_code == 200, patched.text
            # the query string and a token in it are never logged either
            assert (await http.get(f"/v1/events?q={secrets['manage token']}")).status_code == 200
            assert (await http.get("/v1/me", headers=auth)).status_code == 200
        assert await server.stop() == 0
        dump = pg_dump(binary, database_url)
    finally:
        server.kill()
        await drop_test_database(database_url)

    logs = log_path.read_text()
    request_lines = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    # the app did log every request, by route template
    routes = {line["route"] for line in request_lines}
    assert "/v1/rsvps/manage/{token}" in routes, routes
    assert "/v1/events/shared/{token}" in routes
    assert UNMATCHED in routes
    for line in request_lines:
        assert set(line) == {"method", "route", "status", "duration_ms"}, line

    for where, text in (("the server's output", logs), ("pg_dump", dump)):
        for name, secret in secrets.items():
            assert secret not in text, f"the {name} is in {where}"
        assert "127.0.0.1" not in text, f"a client address is in {where}"
        assert FORWARDED_FOR not in text, f"the X-Forwarded-For address is in {where}"
        assert "LogProbe" not in text, f"the user agent is in {where}"
        assert not IPV6_LOOPBACK.search(text), f"an IPv6 client address is in {where}"
    assert IPV4.findall(logs) == []


async def test_no_column_could_hold_an_address_a_user_agent_or_a_login_time(conn):
    rows = await conn.fetch(
        """
        SELECT table_name, column_name FROM information_schema.columns
         WHERE table_schema = 'public'
           AND (column_name LIKE '%\\_ip' OR column_name LIKE 'ip\\_%' OR column_name = 'ip'
                OR column_name LIKE '%user\\_agent%' OR column_name LIKE '%last\\_login%'
                OR column_name LIKE '%remote\\_addr%' OR column_name LIKE '%client\\_addr%')
        """
    )
    assert [f"{r['table_name']}.{r['column_name']}" for r in rows] == []
    inet = await conn.fetch(
        """
        SELECT table_name, column_name FROM information_schema.columns
         WHERE table_schema = 'public' AND data_type IN ('inet', 'cidr')
        """
    )
    assert [f"{r['table_name']}.{r['column_name']}" for r in inet] == []


async def test_each_request_is_one_json_line_with_the_route_template(client, caplog):
    caplog.set_level(logging.INFO, logger="caravan.request")
    token = "cvn_rsvp_" + "s" * 43
    await client.get(f"/v1/rsvps/manage/{token}?lang=es", headers={"X-Forwarded-For": "1.2.3.4"})
    await client.get("/v1/nowhere/at-all")
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "caravan.request"]
    assert lines[0]["method"] == "GET"
    assert lines[0]["route"] == "/v1/rsvps/manage/{token}"
    assert lines[0]["status"] == 404
    assert isinstance(lines[0]["duration_ms"], float)
    assert lines[1] == {**lines[1], "route": UNMATCHED, "status": 404}
    # (the test client's own log lines name the URL; only the app's are checked)
    text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("caravan"))
    assert token not in text and "1.2.3.4" not in text and "nowhere" not in text


def test_serve_logging_keeps_uvicorn_errors_and_drops_its_access_log():
    config = logging_config()
    assert config["loggers"]["uvicorn.access"]["handlers"] == []
    assert config["loggers"]["uvicorn.access"]["propagate"] is False
    assert config["loggers"]["uvicorn.error"]["handlers"] == ["stderr"]
    assert config["loggers"]["caravan.request"]["handlers"] == ["requests"]

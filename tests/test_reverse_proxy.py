"""deploy/nginx.conf, run by Debian's nginx on loopback in front of `caravan serve`.

The shipped file is used as it is, except for the lines that name where it listens, where the
app is and where the certificate lies; every timeout, limit and header is the shipped one.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from api.config import load_settings
from tests.live_server import TEST_ENV, LiveServer, free_port
from tests.problems import assert_problem

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "deploy" / "nginx.conf"


def nginx_binary() -> str | None:
    found = shutil.which("nginx")
    if found is None and os.access("/usr/sbin/nginx", os.X_OK):
        found = "/usr/sbin/nginx"
    return found


NGINX = nginx_binary()
needs_nginx = pytest.mark.skipif(
    NGINX is None,
    reason="nginx is not installed (apt-get install nginx); .ci/run installs it in CI",
)


def default_body_limit() -> int:
    """The app's body limit when CARAVAN_MAX_BODY_BYTES is not set."""
    return load_settings(dict(TEST_ENV)).max_body_bytes


def shipped_directive(name: str) -> str:
    """The value of an `http`-level directive in the shipped file (one occurrence)."""
    values = re.findall(rf"^\s*{name}\s+([^;]+);", SHIPPED.read_text(), flags=re.M)
    assert len(values) == 1, (name, values)
    return values[0].strip()


def shipped_seconds(name: str) -> int:
    value = shipped_directive(name)
    match = re.fullmatch(r"(\d+)s", value)
    assert match, (name, value)
    return int(match.group(1))


# ------------------------------------------------------------------ rendering and running


TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")


def render(
    https_port: int, http_port: int, upstream_port: int, cert: Path, key: Path, scratch: Path
) -> str:
    """The shipped file with only its addresses and certificate paths changed, and nginx's
    scratch folders (compiled in under /var/lib/nginx) moved to `scratch`."""
    text = SHIPPED.read_text()
    temp_paths = "".join(f"\n    {name}_temp_path {scratch / name};" for name in TEMP_PATHS)
    for line, replacement in [
        ("http {", "http {" + temp_paths),
        ("listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;"),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("server api:8000;", f"server 127.0.0.1:{upstream_port};"),
        ("/etc/nginx/certs/fullchain.pem;", f"{cert};"),
        ("/etc/nginx/certs/privkey.pem;", f"{key};"),
    ]:
        # exactly once each: a reshaped shipped file fails here, not somewhere obscure
        assert text.count(line) == 1, line
        text = text.replace(line, replacement)
    return text


@dataclass
class Certificate:
    cert: Path
    key: Path

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


def self_signed(directory: Path) -> Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    paths = Certificate(directory / "fullchain.pem", directory / "privkey.pem")
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


class Nginx:
    """nginx in the foreground with its own prefix, pid file and log in `directory`."""

    def __init__(self, directory: Path, upstream_port: int, certificate: Certificate) -> None:
        assert NGINX is not None
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.https_port = free_port()
        self.http_port = free_port()
        self.certificate = certificate
        # outside pytest's private folders: nginx's workers (`nobody` when the tests run as
        # root) write request bodies there
        self.scratch = Path(tempfile.mkdtemp(prefix="caravan-nginx-"))
        self.scratch.chmod(0o755)
        self.conf = directory / "nginx.conf"
        self.conf.write_text(
            render(
                self.https_port,
                self.http_port,
                upstream_port,
                certificate.cert,
                certificate.key,
                self.scratch,
            )
        )
        self.log_path = directory / "nginx.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    def client(self, **kwargs: object) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.base_url,
            verify=self.certificate.client_context(),
            timeout=30,
            **kwargs,  # type: ignore[arg-type]
        )

    async def start(self, timeout_s: float = 20.0) -> None:
        assert NGINX is not None
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    NGINX,
                    "-p",
                    str(self.directory),
                    "-c",
                    str(self.conf),
                    "-e",
                    str(self.log_path),
                    "-g",
                    f"daemon off; pid {self.directory / 'nginx.pid'};",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.log_path.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", self.https_port), timeout=1):
                    return
            except OSError:
                await asyncio.sleep(0.1)
        self.stop()
        raise RuntimeError(f"nginx did not start: {self.log_path.read_text()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.scratch, ignore_errors=True)


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return self_signed(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
async def caravan(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveServer]:
    server = LiveServer(database_url, tmp_path_factory.mktemp("caravan") / "serve.log")
    try:
        await server.start()
        yield server
    finally:
        server.kill()


@pytest.fixture(scope="module")
async def proxy(
    caravan: LiveServer, certificate: Certificate, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Nginx]:
    nginx = Nginx(tmp_path_factory.mktemp("nginx"), caravan.port, certificate)
    try:
        await nginx.start()
        yield nginx
    finally:
        nginx.stop()


@dataclass
class EchoUpstream:
    """A stand-in for the app that answers 200 and keeps the headers it was sent."""

    port: int = field(default_factory=free_port)
    seen: list[dict[str, list[str]]] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        headers: dict[str, list[str]] = {}
        for raw in head.decode("latin-1").split("\r\n")[1:]:
            if raw:
                name, _, value = raw.partition(":")
                headers.setdefault(name.strip().lower(), []).append(value.strip())
        self.seen.append(headers)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()


@pytest.fixture
async def echo_proxy(
    certificate: Certificate, tmp_path: Path
) -> AsyncIterator[tuple[Nginx, EchoUpstream]]:
    upstream = EchoUpstream()
    server = await asyncio.start_server(upstream.handle, "127.0.0.1", upstream.port)
    nginx = Nginx(tmp_path / "nginx", upstream.port, certificate)
    try:
        await nginx.start()
        yield nginx, upstream
    finally:
        nginx.stop()
        server.close()
        await server.wait_closed()


# ------------------------------------------------------------------ slow clients


@dataclass
class Trickle:
    """What one slow client saw: bytes it got out before the proxy hung up, and any reply."""

    connected: bool = False
    sent: int = 0
    closed: bool = False
    reply: bytes = b""


async def trickle(nginx: Nginx, request: bytes, outcome: Trickle) -> None:
    """Send `request` one byte a second until the proxy closes the connection or the bytes
    run out (they never make a complete request)."""
    try:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1",
            nginx.https_port,
            ssl=nginx.certificate.client_context(),
            server_hostname="127.0.0.1",
        )
    except OSError:
        return
    outcome.connected = True
    try:
        while outcome.sent < len(request):
            writer.write(request[outcome.sent : outcome.sent + 1])
            await writer.drain()
            outcome.sent += 1
            try:
                data = await asyncio.wait_for(reader.read(4096), timeout=1.0)
            except TimeoutError:
                continue  # still open: the next byte
            outcome.reply += data
            if not data:
                outcome.closed = True
                return
        # the whole request went out (it is not a complete one): did the proxy close at last?
        data = await asyncio.wait_for(reader.read(4096), timeout=1.0)
        outcome.closed = not data
    except (ConnectionError, ssl.SSLError):
        outcome.closed = True
    except TimeoutError:
        pass
    finally:
        writer.close()


def app_log_lines(server: LiveServer, route: str) -> list[str]:
    """The app's request-log lines for `route` (one JSON object per line)."""
    lines = []
    for line in server.log_path.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # uvicorn's own start-up lines
        if isinstance(entry, dict) and entry.get("route") == route:
            lines.append(line)
    return lines


@needs_nginx
@pytest.mark.slow
async def test_the_proxy_hangs_up_on_300_clients_trickling_a_request_line_while_others_are_served(
    proxy: Nginx, caravan: LiveServer
):
    header_timeout = shipped_seconds("client_header_timeout")
    # a request line that would take four times the shipped timeout to trickle, never ending
    request = b"GET /v1/orgs?padding=" + b"a" * (4 * header_timeout)
    outcomes = [Trickle() for _ in range(300)]
    tasks = [asyncio.create_task(trickle(proxy, request, outcome)) for outcome in outcomes]

    answers: list[tuple[int, int]] = []  # (status, slow clients connected and open meanwhile)
    async with proxy.client() as http:
        for _ in range(20 * header_timeout):  # bounded; ends once every slow client is done
            if all(task.done() for task in tasks):
                break
            response = await http.get("/readyz")
            still_open = sum(1 for o in outcomes if o.connected and not o.closed)
            answers.append((response.status_code, still_open))
            await asyncio.sleep(0.5)
        await asyncio.gather(*tasks)
        after = await http.get("/readyz")
        answers.append((after.status_code, sum(1 for o in outcomes if not o.closed)))

    assert all(o.connected for o in outcomes)
    assert [status for status, _ in answers if status != 200] == []
    # the API answered while all 300 were holding connections, and after they were cut off
    assert max(open_ for _, open_ in answers) == 300
    assert answers[-1][1] == 0
    # every slow client was cut off part-way, with no answer from the app
    assert [o for o in outcomes if not o.closed] == []
    assert all(o.sent < len(request) for o in outcomes)
    assert all(not o.reply.startswith(b"HTTP/1.1 2") for o in outcomes)
    # and never reached the app, which saw the health checks: nginx holds a request until its
    # headers are complete
    assert len(app_log_lines(caravan, "/readyz")) >= len(answers)
    assert app_log_lines(caravan, "/v1/orgs") == []


@needs_nginx
@pytest.mark.slow
async def test_the_proxy_hangs_up_on_a_client_that_stops_sending_its_body_before_the_app_sees_it(
    proxy: Nginx, caravan: LiveServer
):
    body_timeout = shipped_seconds("client_body_timeout")
    head = (
        b"POST /v1/accounts HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 200\r\n\r\n"
    )
    # the head at once and one byte of the body, then nothing for four times the timeout
    stalled = head + b"{"
    outcomes = [Trickle() for _ in range(20)]

    async def stall(outcome: Trickle) -> None:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1",
            proxy.https_port,
            ssl=proxy.certificate.client_context(),
            server_hostname="127.0.0.1",
        )
        outcome.connected = True
        writer.write(stalled)
        await writer.drain()
        outcome.sent = len(stalled)
        try:
            for _ in range(4 * body_timeout):
                try:
                    data = await asyncio.wait_for(reader.read(4096), timeout=1.0)
                except TimeoutError:
                    continue
                outcome.reply += data
                if not data:
                    outcome.closed = True
                    return
        except (ConnectionError, ssl.SSLError):
            outcome.closed = True
        finally:
            writer.close()

    await asyncio.gather(*(stall(outcome) for outcome in outcomes))
    async with proxy.client() as http:
        assert (await http.get("/readyz")).status_code == 200

    assert [o for o in outcomes if not o.closed] == []
    assert all(not o.reply.startswith(b"HTTP/1.1 2") for o in outcomes)
    assert app_log_lines(caravan, "/v1/accounts") == []


# ------------------------------------------------------------------ headers and refusals


@needs_nginx
async def test_the_app_is_told_the_real_peer_and_never_what_the_client_claimed(echo_proxy):
    nginx, upstream = echo_proxy
    spoofed = {
        "X-Forwarded-For": "203.0.113.7, 198.51.100.9",
        "Forwarded": "for=203.0.113.7;proto=http",
        "X-Real-IP": "203.0.113.7",
        "X-Forwarded-Proto": "http",
        "X-Forwarded-Host": "evil.example",
    }
    async with nginx.client() as http:
        response = await http.get("/v1/events", headers=spoofed)
    assert response.status_code == 200
    [seen] = upstream.seen
    assert seen["x-forwarded-for"] == ["127.0.0.1"]
    assert seen["forwarded"] == ["for=127.0.0.1;proto=https"]
    assert seen["x-real-ip"] == ["127.0.0.1"]
    assert seen["x-forwarded-proto"] == ["https"]
    assert "x-forwarded-host" not in seen
    assert seen["host"] == ["127.0.0.1"]
    # the proxy names no version
    assert response.headers.get("server") == "nginx"


@needs_nginx
async def test_plain_http_on_either_port_is_sent_to_https(proxy: Nginx):
    for port in (proxy.http_port, proxy.https_port):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            response = await http.get("/v1/events?page=2")
        assert response.status_code == 301, (port, response.text)
        assert response.headers["location"] == "https://127.0.0.1/v1/events?page=2"


@needs_nginx
async def test_a_body_over_the_app_limit_is_refused_by_the_proxy_as_a_problem(proxy: Nginx):
    limit = default_body_limit()
    async with proxy.client() as http:
        response = await http.post(
            "/v1/accounts",
            content=b"x" * (limit + 1),
            headers={"Content-Type": "application/json"},
        )
    assert_problem(response, 413, "body-too-large", detail_contains="larger")


@needs_nginx
async def test_a_body_under_the_limit_but_over_the_memory_buffer_reaches_the_app(proxy: Nginx):
    body = json.dumps({"slug": "big", "name": "a" * 300_000, "timezone": "UTC"}).encode()
    async with proxy.client() as http:
        response = await http.post(
            "/v1/orgs", content=body, headers={"Content-Type": "application/json"}
        )
    # the app read the whole document (nginx buffered it on disk first) and judged its fields
    assert_problem(response, 400, "invalid-request", pointer="#/name")


@needs_nginx
async def test_a_header_over_8_kib_and_a_long_request_line_are_refused_as_problems(proxy: Nginx):
    async with proxy.client() as http:
        big_header = await http.get("/v1/events", headers={"X-Padding": "a" * 9000})
        long_line = await http.get("/v1/events?q=" + "a" * 9000)
    assert_problem(big_header, 400, "invalid-request", detail_contains="header")
    assert_problem(long_line, 414, "uri-too-long", detail_contains="request line")


@needs_nginx
async def test_an_app_that_does_not_answer_is_a_503_problem_with_retry_after(
    certificate: Certificate, tmp_path: Path
):
    nginx = Nginx(tmp_path / "nginx", free_port(), certificate)  # nothing listens upstream
    try:
        await nginx.start()
        async with nginx.client() as http:
            response = await http.get("/v1/events")
    finally:
        nginx.stop()
    assert_problem(response, 503, "unavailable")
    assert response.headers["retry-after"] == "5"


# ------------------------------------------------------------------ the shipped files agree


def test_the_proxy_body_limit_is_the_app_default_and_the_compose_default():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    api_env = compose["services"]["api"]["environment"]
    limit = int(shipped_directive("client_max_body_size"))
    assert limit == default_body_limit()
    assert api_env["CARAVAN_MAX_BODY_BYTES"] == f"${{CARAVAN_MAX_BODY_BYTES:-{limit}}}"


def test_compose_publishes_only_the_proxy_and_the_api_trusts_only_the_proxy():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"proxy"}
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in services["proxy"]["volumes"]
    [subnet] = [c["subnet"] for c in compose["networks"]["edge"]["ipam"]["config"]]
    proxy_address = services["proxy"]["networks"]["edge"]["ipv4_address"]
    assert ipaddress.ip_address(proxy_address) in ipaddress.ip_network(subnet)
    assert services["api"]["environment"]["CARAVAN_TRUSTED_PROXIES"] == proxy_address
    # only the proxy and the API share that network
    on_edge = {name for name, s in services.items() if "edge" in (s.get("networks") or [])}
    assert on_edge == {"proxy", "api"}

"""A real PgBouncer (the distribution's `pgbouncer`) in transaction pooling in front of the
test server, on a free loopback port; every database of that server is reachable through it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

from db.migrate import set_database_defaults
from db.pool import connect, session_defaults

#: PgBouncer refuses to run as root; as root it is started as this OS user instead
RUN_AS = "postgres"


def pgbouncer_binary() -> str | None:
    """The pgbouncer executable, or None when it is not installed."""
    return shutil.which("pgbouncer") or next(
        (p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.access(p, os.X_OK)), None
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgBouncer:
    """`start()` writes its config and starts it; `stop()` ends it by its PID.

    `url(database_url)` is the same database reached through PgBouncer.
    """

    def __init__(self, server_url: str, *, pool_size: int = 20) -> None:
        parts = urlsplit(server_url)
        socket_dir = parse_qs(parts.query).get("host", [None])[0]
        # the server as PgBouncer reaches it: a Unix socket directory or a TCP address
        self.server_host = socket_dir or parts.hostname or "127.0.0.1"
        self.server_port = parts.port or 5432
        self.user = parts.username or "postgres"
        self.pool_size = pool_size
        self.port = 0
        self.dir: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, database_url: str) -> str:
        parts = urlsplit(database_url)
        return urlunsplit(("postgresql", f"{self.user}@127.0.0.1:{self.port}", parts.path, "", ""))

    @property
    def log(self) -> str:
        return (self.dir / "pgbouncer.log").read_text() if self.dir else ""

    def start(self, timeout_s: float = 10.0) -> None:
        binary = pgbouncer_binary()
        if binary is None:
            raise RuntimeError("pgbouncer is not installed (apt-get install pgbouncer)")
        self.dir = Path(tempfile.mkdtemp(prefix="caravan-pgbouncer-"))
        self.port = _free_port()
        ini = self.dir / "pgbouncer.ini"
        (self.dir / "userlist.txt").write_text(f'"{self.user}" ""\n')
        ini.write_text(
            "[databases]\n"
            # a wildcard: each test database (created later, under any name) is reachable
            f"* = host={self.server_host} port={self.server_port}\n"
            "[pgbouncer]\n"
            "listen_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\n"
            "unix_socket_dir =\n"
            "auth_type = trust\n"
            f"auth_file = {self.dir / 'userlist.txt'}\n"
            "pool_mode = transaction\n"
            f"default_pool_size = {self.pool_size}\n"
            "max_client_conn = 1000\n"
            f"logfile = {self.dir / 'pgbouncer.log'}\n"
            f"pidfile = {self.dir / 'pgbouncer.pid'}\n"
            f"admin_users = {self.user}\n"
        )
        command = [binary, str(ini)]
        if os.geteuid() == 0:
            shutil.chown(self.dir, RUN_AS)
            for path in self.dir.iterdir():
                shutil.chown(path, RUN_AS)
            command = [binary, "-u", RUN_AS, str(ini)]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, cwd=self.dir
        )
        deadline = time.monotonic() + timeout_s
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"pgbouncer exited at start-up:\n{self.log}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"pgbouncer did not listen within {timeout_s}s") from None
                time.sleep(0.02)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


@asynccontextmanager
async def bounced(database_url: str, **defaults: str) -> AsyncIterator[str]:
    """`database_url` through a PgBouncer of its own, whose server connections (all new)
    start with these session defaults over the usual ones; the usual ones come back after."""
    usual = session_defaults(10_000)
    admin = await connect(database_url)
    try:
        await set_database_defaults(admin, {**usual, **defaults})
        bouncer = PgBouncer(database_url)
        bouncer.start()
        try:
            yield bouncer.url(database_url)
        finally:
            bouncer.stop()
            await set_database_defaults(admin, usual)
    finally:
        await admin.close()

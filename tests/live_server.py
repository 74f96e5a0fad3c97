"""`caravan serve` as a real process on a free loopback port, its output captured to a file."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

CARAVAN = Path(sys.executable).with_name("caravan")

#: the environment tests add for a served app (the same cheap hashing as tests.conftest)
TEST_ENV = {
    "CARAVAN_MODE": "test",
    "CARAVAN_SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
    "CARAVAN_ARGON2_MEMORY_KIB": "64",
    "CARAVAN_ARGON2_TIME_COST": "1",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def by_name(database_url: str) -> str:
    """The same database addressed as `localhost`, so the server's own output (which names
    its database and bind address) never spells out a loopback IP a log test looks for."""
    parts = urlsplit(database_url)
    if parts.hostname != "127.0.0.1":
        return database_url
    netloc = parts.netloc.replace("127.0.0.1", "localhost")
    return urlunsplit(parts._replace(netloc=netloc))


class LiveServer:
    """Start with `await server.start()`; `stop()` sends SIGTERM and returns the exit code."""

    def __init__(self, database_url: str, log_path: Path, **env: str) -> None:
        self.port = free_port()
        self.log_path = log_path
        self.env = {**os.environ, **TEST_ENV, "DATABASE_URL": by_name(database_url), **env}
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file: object = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, timeout_s: float = 30.0) -> None:
        log_file = self.log_path.open("ab")
        self._log_file = log_file
        # `localhost`, not an IP: uvicorn prints the address it binds in its start-up line
        self.process = subprocess.Popen(
            [str(CARAVAN), "serve", "--host", "localhost", "--port", str(self.port)],
            env=self.env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(base_url=self.base_url) as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"caravan serve exited: {self.log_path.read_text()}")
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        self.kill()
        raise RuntimeError(f"caravan serve did not start: {self.log_path.read_text()}")

    def terminate(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    async def wait(self, timeout_s: float = 30.0) -> int:
        assert self.process is not None
        try:
            await asyncio.to_thread(self.process.wait, timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise RuntimeError("caravan serve did not exit after SIGTERM") from None
        self._close_log()
        return int(self.process.returncode)

    async def stop(self) -> int:
        self.terminate()
        return await self.wait()

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._close_log()

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()  # type: ignore[attr-defined]
            self._log_file = None

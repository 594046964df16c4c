"""A private Redis server for tests, in a temporary folder, on a free port of 127.0.0.1.

It needs only the package (`apt-get install redis-server`). It keeps nothing on disk, as a
Redis without persistence: stopped and started again, it comes back empty. Without the
package the tests that need it are skipped, unless REQUIRE_SERVERS is set (as in the
template's CI), which makes them fail.
"""

import os
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from redis import Redis
from redis.exceptions import RedisError

MISSING = "Redis is not installed: apt-get install redis-server"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0


def redis_server() -> str:
    """The `redis-server` program; skips the calling test without one, or fails it when
    REQUIRE_SERVERS is set."""
    found = shutil.which("redis-server") or shutil.which("redis-server", path="/usr/sbin")
    if found:
        return found
    if os.environ.get("REQUIRE_SERVERS"):
        pytest.fail(MISSING)
    pytest.skip(MISSING)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RedisServer:
    """One redis-server process, with a password (so that tests can see it is never shown)."""

    def __init__(self, folder: Path) -> None:
        self.program = redis_server()
        self.folder = folder
        self.port = free_port()
        self.password = secrets.token_hex(8)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = (self.folder / "redis.log").open("ab")
        self.process = subprocess.Popen(
            [
                self.program,
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--dir", str(self.folder), "--save", "", "--appendonly", "no"),
                *("--requirepass", self.password),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        client = Redis.from_url(self.url, socket_connect_timeout=1)
        deadline = time.monotonic() + START_TIMEOUT
        try:
            while True:
                try:
                    client.ping()
                    return
                except RedisError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(self.output()) from None
                    time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def output(self) -> str:
        return (self.folder / "redis.log").read_text(errors="replace")

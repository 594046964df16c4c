"""The private Redis of `--instances`: the backplane that the instances share, and nothing else.

`redis-server` runs on a free port of 127.0.0.1, in a temporary folder, for this run only, and
keeps nothing on disk (`--save "" --appendonly no`): a snapshot written mid-phase would count
as the hop's latency, and nothing of a benchmark needs to outlive it. It is told apart from a
Redis the machine may already run by its port; nothing here reads or writes any other.
"""

import shutil
import socket
import subprocess
import time
from pathlib import Path

from bench.system import cpu_seconds, rss_kib

MISSING = "--instances needs redis-server, which is not installed: apt-get install redis-server"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
ATTEMPTS = 3  # a free port may be taken before Redis binds it


class RedisStartError(Exception):
    """Redis did not start; the message holds its log."""


def find_program() -> str | None:
    """The `redis-server` on PATH, if any."""
    return shutil.which("redis-server") or shutil.which("redis-server", path="/usr/sbin")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def answers(port: int) -> bool:
    """Whether a Redis on `port` answers PING (the protocol's inline form: no client needed)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    def __init__(self, program: str, folder: Path) -> None:
        self.program = program
        self.folder = folder
        self.log = folder / "redis.log"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        for attempt in range(ATTEMPTS):
            self.port = free_port()
            with self.log.open("ab") as output:
                self.process = subprocess.Popen(  # noqa: S603 (the program on PATH, our arguments)
                    [
                        self.program,
                        *("--port", str(self.port), "--bind", "127.0.0.1"),
                        *("--dir", str(self.folder), "--save", "", "--appendonly", "no"),
                    ],
                    stdout=output,
                    stderr=subprocess.STDOUT,
                )
            deadline = time.monotonic() + START_TIMEOUT
            while self.process.poll() is None and time.monotonic() < deadline:
                if answers(self.port):
                    return
                time.sleep(0.05)
            self.stop()
            if attempt == ATTEMPTS - 1 or "address already in use" not in self.output().lower():
                raise RedisStartError(f"redis-server did not start:\n{self.output()}")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def cpu_seconds(self) -> float:
        assert self.process is not None
        return cpu_seconds(self.process.pid)

    def rss_kib(self) -> int:
        assert self.process is not None
        return rss_kib(self.process.pid)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

"""A private Redis: the backplane of `--instances`, and of the tests of several instances.

`redis-server` runs on a free port of 127.0.0.1, in a temporary folder, for this run only, and
keeps nothing on disk (`--save "" --appendonly no`): a snapshot written mid-phase would count
as the hop's latency, and nothing of a benchmark needs to outlive it. It is told apart from a
Redis the machine may already run by its port; nothing here reads or writes any other.
"""

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from bench.system import cpu_seconds, rss_kib, stop

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


def answers(port: int, password: str) -> bool:
    """Whether a Redis on `port` answers PING (the protocol's inline form: no client needed)."""
    asked = (f"AUTH {password}\r\n" if password else "") + "PING\r\n"
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            connection.sendall(asked.encode())
            heard = b""
            while b"PONG" not in heard and b"-" not in heard:  # the answer, or an error
                chunk = connection.recv(64)
                if not chunk:
                    return False
                heard += chunk
            return b"+PONG" in heard
    except OSError:
        return False


class RedisServer:
    """One redis-server process. Started again after `stop`, it takes the same port (and comes
    back empty), as a restarted Redis without persistence does."""

    def __init__(
        self, program: str, folder: Path, password: str = "", options: tuple[str, ...] = ()
    ) -> None:
        self.program = program
        self.folder = folder
        self.password = password
        self.options = options  # more of redis-server's command-line options
        self.log = folder / "redis.log"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        credentials = f":{self.password}@" if self.password else ""
        return f"redis://{credentials}127.0.0.1:{self.port}/0"

    def start(self) -> None:
        restarting = self.port != 0
        for attempt in range(ATTEMPTS):
            if not restarting:
                self.port = free_port()
            password = ("--requirepass", self.password) if self.password else ()
            with self.log.open("ab") as output:
                self.process = subprocess.Popen(  # noqa: S603 (the program on PATH, our arguments)
                    [
                        self.program,
                        *("--port", str(self.port), "--bind", "127.0.0.1"),
                        *("--dir", str(self.folder), "--save", "", "--appendonly", "no"),
                        *password,
                        *self.options,
                    ],
                    stdout=output,
                    stderr=subprocess.STDOUT,
                )
            deadline = time.monotonic() + START_TIMEOUT
            while self.process.poll() is None and time.monotonic() < deadline:
                if answers(self.port, self.password):
                    return
                time.sleep(0.05)
            self.stop()
            if attempt == ATTEMPTS - 1 or "address already in use" not in self.output().lower():
                raise RedisStartError(f"redis-server did not start:\n{self.output()}")

    def stop(self) -> None:
        if self.process is None:
            return
        stop(self.process, signal.SIGTERM, STOP_TIMEOUT)
        self.process = None

    def cpu_seconds(self) -> float:
        assert self.process is not None
        return cpu_seconds(self.process.pid)

    def rss_kib(self) -> int:
        assert self.process is not None
        return rss_kib(self.process.pid)

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

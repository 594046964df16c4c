"""A private PostgreSQL server for tests, in a temporary folder, on a free port of 127.0.0.1.

Tests that need PostgreSQL get a real one without anything to set up but the package
(`apt-get install postgresql`): `initdb` makes a cluster in a temporary folder, `postgres`
serves it, and the folder goes when the tests end. Without the package those tests are
skipped, unless REQUIRE_SERVERS is set (as in the template's CI), which makes them fail.
"""

import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from bench.system import stop

MISSING = "PostgreSQL is not installed: apt-get install postgresql"
DEBIAN_BINARIES = Path("/usr/lib/postgresql")  # Debian keeps them off PATH, one folder a version
SUPERUSER = "tester"
# Far from UTC, as a production server may be: moments must still come back in UTC.
TIME_ZONE = "Asia/Kolkata"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


def binaries() -> Path:
    """The folder holding `initdb` and `postgres` of one installation, the newest first.

    Skips the calling test when there is none, or fails it when REQUIRE_SERVERS is set.
    """
    on_path = shutil.which("initdb")
    folders = [Path(on_path).parent] if on_path else []
    versions = sorted(DEBIAN_BINARIES.glob("*/bin"), key=_version, reverse=True)
    for folder in [*folders, *versions]:
        if (folder / "initdb").is_file() and (folder / "postgres").is_file():
            return folder
    if os.environ.get("REQUIRE_SERVERS"):
        pytest.fail(MISSING)
    pytest.skip(MISSING)


def _version(folder: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", folder.parent.name))


def _postgres_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        pytest.fail("PostgreSQL refuses to run as root, and there is no user postgres to run it")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class PostgresServer:
    """One PostgreSQL cluster in `folder`: `start` and `stop` it, as often as a test likes,
    on the same port and data; `create_database` gives each test a database of its own."""

    def __init__(self, bin_dir: Path, folder: Path) -> None:
        self._bin = bin_dir
        self._folder = folder
        self._data = folder / "data"
        self._log = folder / "postgres.log"
        self.port = free_port()
        self.password = secrets.token_urlsafe(12)
        self._process: subprocess.Popen[bytes] | None = None
        self._databases = 0
        # PostgreSQL refuses to run as root: then its own user runs it, and owns the folder.
        self._user = _postgres_user() if os.geteuid() == 0 else None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        password_file = self._folder / "password"
        password_file.write_text(self.password + "\n")
        self._hand_over(self._folder)
        self._hand_over(password_file)
        self._run(
            str(self._bin / "initdb"),
            f"--pgdata={self._data}",
            f"--username={SUPERUSER}",
            f"--pwfile={password_file}",
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )

    def start(self) -> None:
        """Start serving, and return once the server accepts connections."""
        assert self._process is None, "already started"
        command = [
            str(self._bin / "postgres"),
            "-D",
            str(self._data),
            "-p",
            str(self.port),
            "-h",
            "127.0.0.1",
            "-k",
            str(self._folder),
            # A test server: nothing needs to survive a crash of the machine.
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
            "-c",
            f"timezone={TIME_ZONE}",
            "-c",
            "shared_buffers=16MB",
            "-c",
            "max_connections=40",
        ]
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self._folder,
                user=self._uid,
                group=self._gid,
                extra_groups=self._groups,
            )
        self._wait_until_ready()

    def stop(self) -> None:
        """Fast shutdown: open transactions are rolled back and clients disconnected."""
        if self._process is None:
            return
        stop(self._process, signal.SIGINT, STOP_TIMEOUT)
        self._process = None

    def create_database(self) -> str:
        """A new, empty database; returns its URL, which holds the password."""
        self._databases += 1
        name = f"test_{self._databases}"
        with psycopg.connect(self._libpq_url(), autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def _libpq_url(self) -> str:
        return f"postgresql://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/postgres"

    def _wait_until_ready(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                psycopg.connect(self._libpq_url(), connect_timeout=5).close()
                return
            except psycopg.OperationalError:
                if self._process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"PostgreSQL did not start:\n{self._log_tail()}") from None
                time.sleep(0.05)

    def _log_tail(self) -> str:
        return "\n".join(self._log.read_text(errors="replace").splitlines()[-20:])

    def _run(self, *command: str) -> None:
        finished = subprocess.run(
            command,
            capture_output=True,
            text=True,
            cwd=self._folder,
            check=False,
            user=self._uid,
            group=self._gid,
            extra_groups=self._groups,
        )
        if finished.returncode != 0:
            raise RuntimeError(f"{command[0]} failed:\n{finished.stdout}{finished.stderr}")

    @property
    def _uid(self) -> int | None:
        return None if self._user is None else self._user.pw_uid

    @property
    def _gid(self) -> int | None:
        return None if self._user is None else self._user.pw_gid

    @property
    def _groups(self) -> list[int] | None:
        return None if self._user is None else []  # not root's

    def _hand_over(self, path: Path) -> None:
        if self._user is not None:
            os.chown(path, self._user.pw_uid, self._user.pw_gid)


@contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """A started private server, stopped and removed with its folder on leaving."""
    bin_dir = binaries()
    folder = Path(tempfile.mkdtemp(prefix="postgres-"))
    server = PostgresServer(bin_dir, folder)
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)

"""The real service as a child process, and a WebSocket client that speaks its protocol."""

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.e2e.credentials import auth_headers, auth_settings
from tests.samples import PACKAGE, PLURAL, ROOMS

SRC = Path(__file__).resolve().parents[2] / "src"
WAIT = 5.0  # seconds that any one reply, frame or request may take
START_TIMEOUT = 30.0
STOP_TIMEOUT = 15.0
SETTINGS = (
    "HOST",
    "PORT",
    "DATABASE_URL",
    "BACKPLANE_URL",
    "MAX_MESSAGE_BYTES",
    "SEND_QUEUE_SIZE",
    "MAX_CONNECTIONS",
    "SHUTDOWN_TIMEOUT",
    "WS_COMPRESSION",
    "LOG_LEVEL",
    "ALLOWED_ORIGINS",
    "JWT_SECRET",
    "JWT_AUDIENCE",
    "JWT_ISSUER",
    "API_TOKENS",
    "MAX_ROOMS_PER_CONNECTION",
    "MAX_ROOM_MEMBERS_LISTED",
    "SEND_QUEUE_BYTES",
    "RATE_LIMIT_PER_SECOND",
    "RATE_LIMIT_BURST",
    "HEARTBEAT_INTERVAL",
    "HEARTBEAT_TIMEOUT",
    "LOG_FORMAT",
)
REPLY_TYPES = frozenset({"ack", "error", "pong"})

Frame = dict[str, Any]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def service_env(port: int, database: Path, **settings: str) -> dict[str, str]:
    """This environment without any setting of the service's own, plus the given ones."""
    env = {key: value for key, value in os.environ.items() if key not in SETTINGS}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), env.get("PYTHONPATH")]))
    env |= {
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "DATABASE_URL": f"sqlite:///{database}",
        "AUTO_MIGRATE": "1",  # a new database each time; test_cli.py tests the check itself
        "SHUTDOWN_TIMEOUT": "5",
        # Tests flood on purpose; the rate-limit tests set their own limits.
        "RATE_LIMIT_PER_SECOND": "1000000",
        "RATE_LIMIT_BURST": "1000000",
    }
    return env | auth_settings() | settings


@dataclass(frozen=True)
class Server:
    """A running `python -m <package>`; its output goes to `log`."""

    process: subprocess.Popen[bytes]
    port: int
    database: Path
    log: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def terminate(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def stop(self) -> int:
        """SIGTERM, then wait for the exit (killing it if it hangs); returns the exit code."""
        self.terminate()
        try:
            return self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


def start(workdir: Path, database: Path | None = None, **settings: str) -> Server:
    """Start the service in `workdir` (so no `.env` of the project applies) and wait for it.

    A `PORT` setting is for a service restarted where its clients expect it; by default the
    service gets a free port.
    """
    database = database or workdir / "db.sqlite3"
    for _attempt in range(3):
        chosen = int(settings["PORT"]) if "PORT" in settings else free_port()
        log = workdir / f"server-{chosen}-{len(list(workdir.glob('server-*.log')))}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", PACKAGE],
                cwd=workdir,
                env=service_env(chosen, database, **settings),
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        server = Server(process, chosen, database, log)
        try:
            if wait_until_healthy(server):
                return server
        except BaseException:
            server.stop()
            raise
        if "address already in use" not in server.output():
            break
    raise RuntimeError(f"the service did not start:\n{server.output()}")


def wait_until_healthy(server: Server) -> bool:
    """True once GET /health answers; False when the process exits first."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        try:
            if httpx.get(f"{server.base_url}/health", timeout=1).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"no answer from /health within {START_TIMEOUT} s:\n{server.output()}")


@contextmanager
def running(workdir: Path, database: Path | None = None, **settings: str) -> Iterator[Server]:
    """A started service that is always stopped afterwards."""
    server = start(workdir, database, **settings)
    try:
        yield server
    finally:
        server.stop()


def new_id() -> str:
    return f"t-{uuid.uuid4().hex}"


def moment(text: str) -> datetime:
    """An RFC 3339 timestamp as the server writes it, e.g. 2026-01-01T00:00:00.000Z."""
    assert text.endswith("Z"), text
    return datetime.fromisoformat(text)


class Peer:
    """One WebSocket client. Requests wait for their reply; events meanwhile are kept."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.events: list[Frame] = []

    async def send(self, frame: Frame | str) -> None:
        if isinstance(frame, dict):
            frame = json.dumps(frame)
        await self.connection.send(frame)

    async def receive(self) -> Frame:
        text = await asyncio.wait_for(self.connection.recv(), WAIT)
        frame = json.loads(text)
        assert isinstance(frame, dict), text
        return frame

    async def request(
        self, type: str, data: Frame | None = None, request_id: str | None = None
    ) -> Frame:
        """Send a request (without `data` when None) and return its reply frame."""
        request_id = request_id or new_id()
        frame: Frame = {"type": type, "id": request_id}
        if data is not None:
            frame["data"] = data
        await self.send(frame)
        return await self.reply_to(request_id)

    async def ack(self, type: str, data: Frame | None = None) -> Frame:
        """The data of the `ack` to a request that must succeed."""
        reply = await self.request(type, data)
        assert reply["type"] == "ack", reply
        data = reply["data"]
        assert isinstance(data, dict)
        return data

    async def reply_to(self, request_id: str | None) -> Frame:
        while True:
            frame = await self.receive()
            if frame["type"] in REPLY_TYPES and frame["id"] == request_id:
                return frame
            self.events.append(frame)

    async def event(self, type: str, entity_id: str) -> Frame:
        """The next event of `type` about the entity `entity_id`."""
        while True:
            for frame in self.events:
                if frame["type"] == type and frame["data"].get("id") == entity_id:
                    self.events.remove(frame)
                    return frame
            self.events.append(await self.receive())


@asynccontextmanager
async def open_peer(
    server: Server, subject: str = "alice", join: bool = ROOMS, **options: Any
) -> AsyncIterator[Peer]:
    """A Peer connected with `subject`'s credentials; `options` go to websockets' `connect`.

    With rooms, it first joins the entity's room (`join`), where the entity's events go.
    """
    options.setdefault("additional_headers", auth_headers(subject))
    async with connect(
        server.ws_url, open_timeout=WAIT, close_timeout=WAIT, **options
    ) as connection:
        peer = Peer(connection)
        if join:
            await peer.ack("room.join", {"room": PLURAL})
        yield peer


@asynccontextmanager
async def stalled_connection(
    server: Server, subject: str = "bob", join: bool = ROOMS
) -> AsyncIterator[ClientConnection]:
    """A client that reads nothing: a small socket buffer, and websockets queues one frame.

    With rooms it first joins the entity's room (`join`), to fall behind on its events.
    """
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server.port))
    async with connect(
        server.ws_url,
        sock=sock,
        max_queue=1,
        open_timeout=WAIT,
        close_timeout=1,
        additional_headers=auth_headers(subject),
    ) as connection:
        if join:
            joining = {"type": "room.join", "id": new_id(), "data": {"room": PLURAL}}
            await connection.send(json.dumps(joining))
            reply = json.loads(await asyncio.wait_for(connection.recv(), WAIT))
            assert reply["type"] == "ack", reply
        yield connection


@dataclass(frozen=True)
class Closed:
    """How a connection ended: the frames read before the close, and the close code."""

    frames: int
    code: int | None


async def read_until_closed(connection: ClientConnection) -> Closed:
    """Read and count frames until the server closes the connection."""
    frames = 0
    while True:
        try:
            await asyncio.wait_for(connection.recv(), WAIT)
        except ConnectionClosed as closed:
            return Closed(frames, None if closed.rcvd is None else closed.rcvd.code)
        frames += 1


async def refusal(server: Server, **options: Any) -> tuple[int, Frame]:
    """The HTTP status and `error` object of a handshake that the service must refuse.

    `options` go to websockets' `connect`; the refusal must be plain HTTP with the JSON
    error shape, so no WebSocket (and no frame) ever exists.
    """
    try:
        async with connect(server.ws_url, open_timeout=WAIT, close_timeout=WAIT, **options):
            pass
    except InvalidStatus as refused:
        response = refused.response
    else:
        raise AssertionError("the handshake was accepted")
    assert response.headers.get("content-type") == "application/json", response.headers
    body = json.loads(response.body)
    assert set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error, dict)
    assert set(error) == {"code", "message"}, error
    assert isinstance(error["message"], str)
    assert error["message"]
    return response.status_code, error


async def raw_handshake(server: Server, headers: dict[str, str]) -> bytes:
    """Everything the service sends back to a hand-written upgrade request, up to its EOF."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    lines = [
        "GET /ws HTTP/1.1",
        f"Host: 127.0.0.1:{server.port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    try:
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await writer.drain()
        return await asyncio.wait_for(reader.read(), WAIT)
    finally:
        writer.close()


def log_records(server: Server) -> list[Frame]:
    """The service's output as JSON log records (LOG_FORMAT=json); every line must be one."""
    records = []
    for line in server.output().splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            raise AssertionError(f"a log line that is not JSON: {line!r}") from None
        assert isinstance(record, dict), line
        records.append(record)
    return records


def events_logged(server: Server, event: str, **fields: Any) -> list[Frame]:
    """The JSON log records of `event` whose fields include `fields`."""
    return [
        record
        for record in log_records(server)
        if record.get("event") == event and all(record.get(k) == v for k, v in fields.items())
    ]


async def wait_for_log(server: Server, event: str, **fields: Any) -> Frame:
    """The first JSON log record of `event` with `fields`, once the service has written it."""
    deadline = time.monotonic() + WAIT
    while not (found := events_logged(server, event, **fields)):
        if time.monotonic() > deadline:
            raise AssertionError(f"no {event} record with {fields} logged:\n{server.output()}")
        await asyncio.sleep(0.02)
    return found[0]


async def metrics(server: Server) -> dict[str, float]:
    """GET /metrics, parsed: each sample's name and value. Every sample has a TYPE line."""
    async with httpx.AsyncClient(base_url=server.base_url, timeout=WAIT) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples: dict[str, float] = {}
    typed: set[str] = set()
    for line in response.text.splitlines():
        if line.startswith("# TYPE "):
            name, kind = line.removeprefix("# TYPE ").split()
            assert kind in {"gauge", "counter"}, line
            typed.add(name)
        elif line and not line.startswith("#"):
            name, value = line.split()
            samples[name] = float(value)
    assert set(samples) == typed, response.text
    return samples

"""A hand-written ASGI side of one WebSocket: what a Client sends, and what it receives."""

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from starlette.types import Message

from tests.unit.service_classes import Client, ClientLimits, Hub, WritePrepared

WAIT = 2.0  # seconds any one expected step may take
ROOMY = ClientLimits(queue_size=1000, queue_bytes=1 << 20, rate=1000.0, burst=1000)


class PeerGoneError(ConnectionError):
    """What a send raises once the peer has disconnected."""


class FakeSocket:
    """Records every ASGI message a Client sends, in order.

    While `stall()` is in force each send waits, as a real one does when the transport's
    buffer is full; `resume()` lets them through again. `gone()` makes every send fail.
    """

    def __init__(self) -> None:
        self.sent: list[Message] = []
        self._writable = asyncio.Event()
        self._writable.set()
        self._closed = asyncio.Event()
        self._gone = False

    async def send(self, message: Message) -> None:
        if self._gone:
            raise PeerGoneError("the peer went away")
        if not self._writable.is_set():
            await self._writable.wait()
        self.sent.append(message)
        if message["type"] == "websocket.close":
            self._closed.set()

    def stall(self) -> None:
        self._writable.clear()

    def resume(self) -> None:
        self._writable.set()

    def gone(self) -> None:
        self._gone = True

    @property
    def texts(self) -> list[str]:
        """The text frames sent, in order."""
        return [message["text"] for message in self.sent if message["type"] == "websocket.send"]

    @property
    def closes(self) -> list[tuple[int, str]]:
        """The (code, reason) of every close sent."""
        return [
            (message["code"], message["reason"])
            for message in self.sent
            if message["type"] == "websocket.close"
        ]

    async def wait_closed(self) -> int:
        """The code of the close frame, once it has been sent."""
        await asyncio.wait_for(self._closed.wait(), WAIT)
        return self.closes[0][0]


class Inbox:
    """The receive side: frames the test puts in come out of `receive`, in order."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[Message] = asyncio.Queue()

    async def receive(self) -> Message:
        return await self._queue.get()

    def text(self, frame: dict[str, Any] | str) -> None:
        text = frame if isinstance(frame, str) else json.dumps(frame)
        self._queue.put_nowait({"type": "websocket.receive", "text": text})

    def binary(self, data: bytes) -> None:
        self._queue.put_nowait({"type": "websocket.receive", "bytes": data})

    def disconnect(self, code: int = 1000) -> None:
        self._queue.put_nowait({"type": "websocket.disconnect", "code": code})


class Evictions:
    """The `on_evict` callback of a client: remembers whom it was called with."""

    def __init__(self) -> None:
        self.clients: list[Client] = []

    def __call__(self, client: Client) -> None:
        self.clients.append(client)


class ManualClock:
    """A monotonic clock that moves only when the test moves it: the time a test claims has
    passed is exactly the time the code under test sees, however loaded the machine is."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def new_client(
    socket: FakeSocket,
    limits: ClientLimits = ROOMY,
    on_evict: Callable[[Client], None] | None = None,
    subject: str = "alice",
    write: WritePrepared | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Client:
    return Client(socket.send, subject, limits, on_evict or Evictions(), write, clock=clock)


def connected(hub: Hub, n: int) -> list[tuple[Client, FakeSocket]]:
    """`n` clients registered with `hub`, each on a fake socket of its own."""
    pairs = []
    for k in range(n):
        socket = FakeSocket()
        client = new_client(socket, on_evict=hub.evict, subject=f"s{k}")
        hub.register(client)
        pairs.append((client, socket))
    return pairs


async def eventually(condition: Callable[[], bool], within: float = WAIT) -> None:
    """Let the event loop run until `condition()` holds; fail after `within` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"not true within {within} s")
        await asyncio.sleep(0.001)

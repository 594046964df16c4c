"""The Python client's waits between reconnection attempts: exponential backoff, full jitter.

As docs/websocket.md says under "Reconnecting": the window starts at 0.5 s and doubles up to
30 s; each wait is drawn uniformly from the whole window; a connection that worked starts the
next outage afresh. The jitter source and the sleep are the client's own seams, so nothing
here waits for real. The service is a hand-written stand-in on a loopback socket, closed or
accepting as each test says.
"""

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.typing import Subprotocol

from tests.samples import RealtimeClient, RequestError

WAIT = 10.0  # seconds any one step may take on a loaded machine
NOWHERE = "ws://127.0.0.1:9/ws"  # never dialled: the tests of the rule only ask for delays


def whole_window() -> float:
    """A jitter source that always draws the top of the window, so a delay is the window."""
    return 1.0


class Draws:
    """A jitter source that draws the given fractions, in order."""

    def __init__(self, fractions: list[float]) -> None:
        self._fractions = iter(fractions)

    def __call__(self) -> float:
        return next(self._fractions)


class ScriptedSleep:
    """Stands in for asyncio.sleep: records each delay the client asks for and returns only
    when the test calls `wake`, so the test decides what the service does in between."""

    def __init__(self) -> None:
        self._asked: asyncio.Queue[float] = asyncio.Queue()
        self._wakeups = asyncio.Semaphore(0)

    async def __call__(self, delay: float) -> None:
        self._asked.put_nowait(delay)
        await self._wakeups.acquire()

    async def asked(self) -> float:
        """The next delay the client asks to sleep for."""
        return await asyncio.wait_for(self._asked.get(), WAIT)

    def wake(self) -> None:
        self._wakeups.release()

    @property
    def pending(self) -> int:
        """Delays asked for and not yet read by the test."""
        return self._asked.qsize()


class FakeService:
    """The service as far as reconnection goes: it accepts connections and lets the test close
    each one with the code it picks."""

    def __init__(self) -> None:
        self._connections: asyncio.Queue[ServerConnection] = asyncio.Queue()

    async def handle(self, connection: ServerConnection) -> None:
        self._connections.put_nowait(connection)
        await connection.wait_closed()

    async def next_connection(self) -> ServerConnection:
        return await asyncio.wait_for(self._connections.get(), WAIT)


@contextmanager
def closed_port() -> Iterator[socket.socket]:
    """A loopback socket that is bound but not listening: connecting to it is refused, and no
    one else can take its port before a test starts serving on it."""
    with socket.socket() as reserved:
        reserved.bind(("127.0.0.1", 0))
        yield reserved


def url_of(reserved: socket.socket) -> str:
    return f"ws://127.0.0.1:{reserved.getsockname()[1]}/ws"


@asynccontextmanager
async def service_on(reserved: socket.socket) -> AsyncIterator[FakeService]:
    service = FakeService()
    realtime = [Subprotocol("realtime.v1")]
    async with serve(service.handle, sock=reserved, subprotocols=realtime):
        yield service


@asynccontextmanager
async def starting(client: RealtimeClient) -> AsyncIterator[asyncio.Task[None]]:
    """The client's `start` as a task (it returns once connected); closed at the end."""
    task = asyncio.create_task(client.start(WAIT))
    try:
        yield task
    finally:
        await client.close()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def delays(count: int, jitter: Callable[[], float] | None = None) -> list[float]:
    """The first `count` delays of a client with the default backoff settings, drawing from
    `jitter` (by default, the client's own source)."""
    client = RealtimeClient(NOWHERE) if jitter is None else RealtimeClient(NOWHERE, jitter=jitter)
    return [client.backoff.next_delay() for _ in range(count)]


# The rule.


def test_the_window_doubles_from_half_a_second_up_to_thirty_seconds() -> None:
    assert delays(9, whole_window) == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]


def test_each_delay_is_the_drawn_fraction_of_the_whole_window() -> None:
    fractions = [0.0, 0.5, 0.25, 0.9, 0.1, 0.75, 0.3, 0.999]
    windows = [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]

    drawn = delays(len(fractions), Draws(fractions))

    assert drawn == pytest.approx([f * w for f, w in zip(fractions, windows, strict=True)])


def test_by_default_delays_spread_evenly_over_the_whole_window() -> None:
    draws = 3000
    drawn = delays(6 + draws)[6:]  # the window has reached the cap
    tenths = [0] * 10
    for delay in drawn:
        assert 0.0 <= delay <= 30.0
        tenths[min(int(delay / 3.0), 9)] += 1

    # Uniform: about 300 in each tenth of the window; 200 to 400 is over six standard
    # deviations each way. Equal jitter (15 s plus up to 15 s) would leave half of them empty.
    assert all(200 <= count <= 400 for count in tenths), tenths


def test_an_outage_of_any_length_waits_at_most_thirty_seconds() -> None:
    drawn = delays(5000, whole_window)

    assert drawn[-1] == 30.0
    assert max(drawn) == 30.0


def test_reset_starts_the_next_outage_from_half_a_second_again() -> None:
    backoff = RealtimeClient(NOWHERE, jitter=whole_window).backoff
    for _ in range(5):
        backoff.next_delay()

    backoff.reset()

    assert [backoff.next_delay(), backoff.next_delay()] == [0.5, 1.0]


# The rule at work in the client.


async def test_an_unreachable_service_is_tried_again_after_each_drawn_delay() -> None:
    sleep = ScriptedSleep()
    with closed_port() as reserved:
        client = RealtimeClient(url_of(reserved), jitter=Draws([0.5, 0.25, 1.0, 0.0]), sleep=sleep)
        asked: list[float] = []
        async with starting(client):
            for _ in range(4):
                asked.append(await sleep.asked())
                sleep.wake()

    assert asked == [0.25, 0.25, 2.0, 0.0]
    assert client.connects == 0


async def test_a_connection_that_worked_starts_the_next_outage_from_half_a_second() -> None:
    sleep = ScriptedSleep()
    with closed_port() as reserved:
        client = RealtimeClient(url_of(reserved), jitter=whole_window, sleep=sleep)
        async with starting(client) as started:
            first_outage = [await sleep.asked()]
            for _ in range(2):
                sleep.wake()
                first_outage.append(await sleep.asked())
            async with service_on(reserved) as service:
                sleep.wake()
                await started  # connected
                connection = await service.next_connection()
                await connection.close(1011, "server error")
                after_a_connection = await sleep.asked()

    assert first_outage == [0.5, 1.0, 2.0]
    assert after_a_connection == 0.5
    assert client.connects == 1


@pytest.mark.parametrize("code", [1001, 1011, 1013, 4000])
async def test_after_a_close_the_client_may_recover_from_it_waits_and_reconnects(
    code: int,
) -> None:
    sleep = ScriptedSleep()
    with closed_port() as reserved:
        async with service_on(reserved) as service:
            client = RealtimeClient(url_of(reserved), jitter=whole_window, sleep=sleep)
            await client.start(WAIT)
            try:
                await (await service.next_connection()).close(code)
                asked = await sleep.asked()
                sleep.wake()
                await service.next_connection()
            finally:
                await client.close()

    assert asked == 0.5  # and the service saw a second connection


@pytest.mark.parametrize("code", [1000, 1003, 1008, 1009])
async def test_after_a_close_that_reconnecting_cannot_mend_the_client_stops(code: int) -> None:
    sleep = ScriptedSleep()
    with closed_port() as reserved:
        async with service_on(reserved) as service:
            client = RealtimeClient(url_of(reserved), jitter=whole_window, sleep=sleep)
            await client.start(WAIT)
            try:
                waiting = asyncio.create_task(client.request("ping", within=WAIT))
                await (await service.next_connection()).close(code)
                with pytest.raises(RequestError) as ended:
                    await waiting
            finally:
                await client.close()

    assert ended.value.code == "closed"
    assert sleep.pending == 0
    assert client.connects == 1

"""The heartbeat's sweep over real Clients on fake sockets, driven with explicit clock values."""

import asyncio
import contextlib
import json

from tests.unit.fakes import WAIT, FakeSocket, Inbox, ManualClock, eventually, new_client
from tests.unit.service_classes import Client, CloseCode, Heartbeat, Hub, read_frames

INTERVAL = 25.0
TIMEOUT = 10.0
T0 = 1000.0  # a moment on the monotonic clock the sweeps are told about


class Fixture:
    """A hub of `n` clients, each on its own socket, that last spoke at T0 by their clock."""

    def __init__(self, n: int) -> None:
        self.clock = ManualClock(T0)
        self.hub = Hub()
        self.heartbeat = Heartbeat(self.hub, INTERVAL, TIMEOUT, self.clock)
        self.sockets = [FakeSocket() for _ in range(n)]
        self.clients = [
            new_client(socket, subject=f"s{k}", clock=self.clock)
            for k, socket in enumerate(self.sockets)
        ]
        self.left: list[Client] = []
        self.hub.on_unregister(self.left.append)
        for client in self.clients:
            self.hub.register(client)


def pings(socket: FakeSocket) -> list[dict[str, object]]:
    frames = [json.loads(text) for text in socket.texts]
    assert all(frame["type"] == "ping" for frame in frames), frames
    return frames


async def test_nobody_is_pinged_before_the_interval() -> None:
    setup = Fixture(3)

    setup.heartbeat.sweep(T0)
    setup.heartbeat.sweep(T0 + INTERVAL - 0.001)

    assert all(socket.sent == [] for socket in setup.sockets)
    assert all(client.pinged_at is None for client in setup.clients)


async def test_silent_clients_share_one_ping_frame() -> None:
    setup = Fixture(3)
    talker = setup.clients[2]
    talker.last_seen = T0 + 1  # spoke since: not yet due

    setup.heartbeat.sweep(T0 + INTERVAL)

    first, second, third = setup.sockets
    assert len(first.texts) == len(second.texts) == 1
    assert first.texts[0] is second.texts[0]  # serialized once for every silent client
    assert third.sent == []
    frame = pings(first)[0]
    assert frame["type"] == "ping"
    assert isinstance(frame["id"], str)
    assert frame["id"]
    assert frame["data"] == {}
    assert [client.pinged_at for client in setup.clients] == [T0 + INTERVAL, T0 + INTERVAL, None]


async def test_a_pinged_client_is_not_pinged_again_while_it_is_awaited() -> None:
    setup = Fixture(1)
    setup.heartbeat.sweep(T0 + INTERVAL)

    setup.heartbeat.sweep(T0 + INTERVAL + TIMEOUT / 2)

    assert len(setup.sockets[0].texts) == 1
    assert setup.clients[0].pinged_at == T0 + INTERVAL


async def test_each_round_of_pings_has_its_own_id() -> None:
    setup = Fixture(1)
    client = setup.clients[0]
    setup.heartbeat.sweep(T0 + INTERVAL)
    client.pinged_at = None  # answered, as the read loop records it
    client.last_seen = T0 + INTERVAL

    setup.heartbeat.sweep(T0 + 2 * INTERVAL)

    first, second = pings(setup.sockets[0])
    assert first["id"] != second["id"]


async def test_a_client_that_answers_stays_open() -> None:
    setup = Fixture(1)
    client, socket = setup.clients[0], setup.sockets[0]
    pinged = T0 + INTERVAL
    setup.heartbeat.sweep(pinged)
    ping = pings(socket)[0]
    inbox = Inbox()
    handled: list[str] = []

    async def handle(_client: Client, text: str) -> None:
        handled.append(text)

    pump = asyncio.create_task(read_frames(client, inbox.receive, handle))
    setup.clock.now = pinged + TIMEOUT / 2  # the read loop stamps the pong with this time
    inbox.text({"type": "pong", "id": ping["id"]})
    await eventually(lambda: bool(handled))
    assert client.pinged_at is None
    assert client.last_seen == pinged + TIMEOUT / 2

    setup.heartbeat.sweep(pinged + TIMEOUT)
    setup.heartbeat.sweep(pinged + TIMEOUT * 2)

    assert not client.closed
    assert socket.closes == []
    assert list(setup.hub) == [client]
    assert setup.hub.stats.heartbeat_timeouts == 0
    inbox.disconnect()
    await asyncio.wait_for(pump, WAIT)


async def test_a_client_that_stays_silent_is_closed_with_4000_and_unregistered() -> None:
    setup = Fixture(2)
    silent, talker = setup.clients
    pinged = T0 + INTERVAL
    setup.heartbeat.sweep(pinged)
    talker.pinged_at = None
    talker.last_seen = pinged + 1

    setup.heartbeat.sweep(pinged + TIMEOUT - 0.001)
    assert not silent.closed

    setup.heartbeat.sweep(pinged + TIMEOUT)

    assert silent.closed
    assert silent.close_code == CloseCode.HEARTBEAT_TIMEOUT
    assert await setup.sockets[0].wait_closed() == 4000
    assert list(setup.hub) == [talker]
    assert setup.left == [silent]
    assert setup.hub.stats.heartbeat_timeouts == 1
    assert setup.hub.stats.disconnects == 1
    assert not talker.closed


async def test_a_timed_out_client_is_counted_once() -> None:
    setup = Fixture(1)
    setup.heartbeat.sweep(T0 + INTERVAL)
    setup.heartbeat.sweep(T0 + INTERVAL + TIMEOUT)

    setup.heartbeat.sweep(T0 + INTERVAL + TIMEOUT * 2)
    setup.heartbeat.sweep(T0 + INTERVAL * 3)

    assert await setup.sockets[0].wait_closed() == 4000
    assert setup.hub.stats.heartbeat_timeouts == 1
    assert setup.sockets[0].closes == [(4000, "no answer to ping")]
    assert len(setup.sockets[0].texts) == 1


async def test_a_stalled_client_still_times_out() -> None:
    setup = Fixture(1)
    socket = setup.sockets[0]
    socket.stall()  # the ping itself cannot get through
    setup.heartbeat.sweep(T0 + INTERVAL)

    setup.heartbeat.sweep(T0 + INTERVAL + TIMEOUT)

    assert list(setup.hub) == []
    socket.resume()
    assert await socket.wait_closed() == 4000


async def test_the_heartbeat_task_sweeps_on_its_own() -> None:
    """The task sweeps every few hundredths of a second, at the time its clock tells."""
    clock = ManualClock()
    hub = Hub()
    socket = FakeSocket()
    hub.register(new_client(socket, clock=clock))
    beating = asyncio.create_task(Heartbeat(hub, 0.05, 0.05, clock).run())
    try:
        clock.advance(1.0)  # silent for far longer than the interval: the next sweep pings
        await eventually(lambda: len(socket.texts) == 1)
        clock.advance(1.0)  # and no answer within the timeout: the next sweep closes
        code = await socket.wait_closed()
    finally:
        beating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beating

    assert len(socket.texts) == 1
    assert code == 4000
    assert hub.stats.heartbeat_timeouts == 1

"""The endpoint's read loop on a hand-written ASGI socket: order, liveness, bad frames."""

import asyncio
import json

from tests.unit.fakes import WAIT, FakeSocket, Inbox, ManualClock, new_client
from tests.unit.service_classes import Client, ClientLimits, CloseCode, read_frames


def frame(n: int) -> str:
    return json.dumps({"type": "event", "id": f"f-{n}", "data": {}})


def limits(queue_size: int) -> ClientLimits:
    return ClientLimits(queue_size=queue_size, queue_bytes=1 << 20, rate=1000.0, burst=1000)


async def handled_by(client: Client, inbox: Inbox) -> list[str]:
    """Read until it returns; the texts it handed over."""
    texts: list[str] = []

    async def handle(_client: Client, text: str) -> None:
        texts.append(text)

    await asyncio.wait_for(read_frames(client, inbox.receive, handle), WAIT)
    return texts


async def test_each_text_frame_is_handed_over_in_order() -> None:
    client = new_client(FakeSocket())
    inbox = Inbox()
    for n in range(3):
        inbox.text(frame(n))
    inbox.disconnect(1000)

    texts = await handled_by(client, inbox)

    assert texts == [frame(n) for n in range(3)]
    assert client.closed
    assert client.close_code == 1000


async def test_anything_received_marks_the_peer_alive() -> None:
    clock = ManualClock()
    client = new_client(FakeSocket(), clock=clock)
    clock.advance(25)
    client.pinged_at = clock.now  # the heartbeat pinged it
    clock.advance(5)
    inbox = Inbox()
    inbox.text({"type": "pong", "id": "hb-1"})
    inbox.disconnect()

    await handled_by(client, inbox)

    assert client.last_seen == clock.now
    assert client.pinged_at is None


async def test_a_binary_frame_closes_with_1003() -> None:
    socket = FakeSocket()
    client = new_client(socket)
    inbox = Inbox()
    inbox.binary(b"{}")
    inbox.text(frame(1))

    texts = await handled_by(client, inbox)

    assert texts == []
    assert socket.closes == [(1003, "send JSON text frames, not binary")]


async def test_frames_after_a_close_are_void() -> None:
    socket = FakeSocket()
    client = new_client(socket)
    inbox = Inbox()
    inbox.text(frame(0))
    inbox.text(frame(1))

    async def handle(client: Client, text: str) -> None:
        handled.append(text)
        client.close_soon(CloseCode.POLICY_VIOLATION, "enough")

    handled: list[str] = []
    await asyncio.wait_for(read_frames(client, inbox.receive, handle), WAIT)

    assert handled == [frame(0)]
    assert socket.closes == [(1008, "enough")]


async def test_reading_ends_once_the_close_frame_got_past_a_backlog() -> None:
    socket = FakeSocket()
    client = new_client(socket, limits(queue_size=2))
    inbox = Inbox()
    socket.stall()
    for n in range(4):
        client.deliver(frame(n))  # evicted: the close waits for the socket
    inbox.text(frame(0))

    pump = asyncio.create_task(read_frames(client, inbox.receive, lambda c, t: asyncio.sleep(0)))
    await asyncio.sleep(0.01)
    assert not pump.done()

    socket.resume()
    await asyncio.wait_for(pump, WAIT)
    assert socket.closes == [(1013, "slow consumer")]


async def test_an_unexpected_error_closes_with_1011() -> None:
    socket = FakeSocket()
    client = new_client(socket)
    inbox = Inbox()
    inbox.text(frame(0))
    inbox.text(frame(1))

    async def broken(_client: Client, text: str) -> None:
        raise RuntimeError("a bug")

    await asyncio.wait_for(read_frames(client, inbox.receive, broken), WAIT)

    assert socket.closes == [(1011, "server error")]
    assert client.closed

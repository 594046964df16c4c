"""One connection's Client on a hand-written ASGI socket: write pump, eviction, rate limit."""

import asyncio
import json

from tests.unit.fakes import (
    WAIT,
    Evictions,
    FakeSocket,
    ManualClock,
    eventually,
    new_client,
)
from tests.unit.service_classes import ClientLimits, CloseCode


def frame(n: int, size: int = 0) -> str:
    """A distinct text frame, padded to `size` characters when given."""
    text = json.dumps({"type": "event", "id": f"f-{n}", "data": {}})
    return text.ljust(size, " ")


def limits(
    queue_size: int = 1000, queue_bytes: int = 1 << 20, rate: float = 1000.0, burst: int = 1000
) -> ClientLimits:
    return ClientLimits(queue_size=queue_size, queue_bytes=queue_bytes, rate=rate, burst=burst)


async def texts_written(socket: FakeSocket, count: int) -> None:
    """Wait until `count` text frames have reached the socket."""
    await eventually(lambda: len(socket.texts) == count)


# Writing: straight through, or through a backlog and the write pump.


async def test_frames_are_written_at_once_while_the_socket_keeps_up() -> None:
    socket = FakeSocket()
    client = new_client(socket)

    for n in range(5):
        client.deliver(frame(n))
        assert socket.texts == [frame(k) for k in range(n + 1)]  # no task, no waiting

    assert not client.closed


async def test_a_blocked_send_starts_a_backlog_that_keeps_the_order() -> None:
    socket = FakeSocket()
    client = new_client(socket)
    socket.stall()

    for n in range(10):
        client.deliver(frame(n))
    await asyncio.sleep(0.01)  # give a wrong implementation the chance to write early
    assert socket.texts == []

    socket.resume()
    await texts_written(socket, 10)

    assert socket.texts == [frame(n) for n in range(10)]
    assert not client.closed


async def test_once_the_backlog_drains_frames_go_straight_through_again() -> None:
    socket = FakeSocket()
    client = new_client(socket)
    socket.stall()
    client.deliver(frame(0))
    client.deliver(frame(1))
    socket.resume()
    await texts_written(socket, 2)
    await asyncio.sleep(0)  # the write pump finishes

    client.deliver(frame(2))

    assert socket.texts == [frame(0), frame(1), frame(2)]


async def test_frames_delivered_while_the_pump_writes_join_the_end_of_the_queue() -> None:
    socket = FakeSocket()
    client = new_client(socket)
    socket.stall()
    client.deliver(frame(0))
    client.deliver(frame(1))
    socket.resume()
    await eventually(lambda: len(socket.texts) >= 1)
    socket.stall()

    client.deliver(frame(2))
    client.deliver(frame(3))
    socket.resume()
    await texts_written(socket, 4)

    assert socket.texts == [frame(n) for n in range(4)]


async def test_a_backlog_of_queue_size_frames_is_kept() -> None:
    socket = FakeSocket()
    evictions = Evictions()
    client = new_client(socket, limits(queue_size=3), evictions)
    socket.stall()

    client.deliver(frame(0))  # being written: not part of the backlog
    for n in range(1, 4):
        client.deliver(frame(n))

    assert not client.closed
    assert evictions.clients == []
    socket.resume()
    await texts_written(socket, 4)


async def test_a_backlog_over_queue_size_frames_evicts_with_1013() -> None:
    socket = FakeSocket()
    evictions = Evictions()
    client = new_client(socket, limits(queue_size=3), evictions)
    socket.stall()
    for n in range(4):
        client.deliver(frame(n))

    client.deliver(frame(4))

    assert client.closed
    assert client.close_code == CloseCode.TRY_AGAIN_LATER
    assert evictions.clients == [client]
    socket.resume()
    assert await socket.wait_closed() == 1013
    assert socket.texts == []  # the backlog is dropped, not flushed to a peer that lags


async def test_a_backlog_over_queue_bytes_evicts_with_1013() -> None:
    socket = FakeSocket()
    evictions = Evictions()
    client = new_client(socket, limits(queue_size=1000, queue_bytes=1000), evictions)
    socket.stall()
    client.deliver(frame(0, 300))  # being written: not part of the backlog
    for n in range(1, 4):
        client.deliver(frame(n, 300))
    assert not client.closed  # 900 characters waiting

    client.deliver(frame(4, 300))  # 1200

    assert client.close_code == CloseCode.TRY_AGAIN_LATER
    assert evictions.clients == [client]
    socket.resume()
    assert await socket.wait_closed() == 1013


async def test_the_byte_count_falls_as_the_pump_writes() -> None:
    socket = FakeSocket()
    client = new_client(socket, limits(queue_bytes=1000))
    for written in (4, 8, 12):  # 3 x 900 characters pass through a 1000-character queue
        socket.stall()
        client.deliver(frame(0, 300))
        for n in range(1, 4):
            client.deliver(frame(n, 300))
        socket.resume()
        await texts_written(socket, written)
        await asyncio.sleep(0)

    assert not client.closed


async def test_an_evicted_client_is_evicted_once_and_sends_nothing_more() -> None:
    socket = FakeSocket()
    evictions = Evictions()
    client = new_client(socket, limits(queue_size=1), evictions)
    socket.stall()
    for n in range(3):
        client.deliver(frame(n))

    client.evict()
    client.deliver(frame(99))
    socket.resume()
    await socket.wait_closed()

    assert evictions.clients == [client]
    assert socket.texts == []
    assert socket.closes == [(1013, "slow consumer")]


async def test_a_send_to_a_peer_that_is_gone_marks_the_client_closed() -> None:
    socket = FakeSocket()
    client = new_client(socket)
    socket.gone()

    client.deliver(frame(0))  # must not raise
    client.deliver(frame(1))

    assert client.closed
    assert socket.sent == []


# Closing.


async def test_close_soon_is_idempotent_the_first_code_wins() -> None:
    socket = FakeSocket()
    client = new_client(socket)

    client.close_soon(CloseCode.TRY_AGAIN_LATER, "first")
    client.close_soon(CloseCode.NORMAL, "second")
    await client.close(CloseCode.GOING_AWAY, "third")

    assert socket.closes == [(1013, "first")]
    assert client.close_code == CloseCode.TRY_AGAIN_LATER
    assert client.closed


async def test_close_waits_until_the_close_frame_is_sent() -> None:
    socket = FakeSocket()
    client = new_client(socket)
    socket.stall()

    closing = asyncio.create_task(client.close(CloseCode.NORMAL, "bye"))
    await asyncio.sleep(0.01)
    assert not closing.done()

    socket.resume()
    await asyncio.wait_for(closing, WAIT)
    assert socket.closes == [(1000, "bye")]


async def test_close_soon_drops_the_backlog() -> None:
    socket = FakeSocket()
    client = new_client(socket)
    socket.stall()
    for n in range(5):
        client.deliver(frame(n))

    client.close_soon(CloseCode.GOING_AWAY)
    client.deliver(frame(5))
    socket.resume()
    await socket.wait_closed()
    await asyncio.sleep(0.01)

    assert socket.texts == []
    assert socket.closes == [(1001, "")]


# The rate limit: a token bucket of `burst` tokens, refilled at `rate` per second.


async def test_a_burst_is_admitted_at_once_and_the_next_frame_refused() -> None:
    client = new_client(FakeSocket(), limits(rate=0.001, burst=5))

    admitted = [client.admit() for _ in range(6)]

    assert admitted == [True] * 5 + [False]
    assert not client.closed


async def test_the_bucket_refills_over_time() -> None:
    rate = 50.0  # one token every 20 ms
    clock = ManualClock()
    client = new_client(FakeSocket(), limits(rate=rate, burst=2), clock=clock)
    assert client.admit()
    assert client.admit()
    assert not client.admit()  # empty

    clock.advance(1.5 / rate)

    assert client.admit()
    assert not client.admit()  # one token came back in that time, not two


async def test_the_bucket_never_holds_more_than_the_burst() -> None:
    rate, burst = 50.0, 3
    clock = ManualClock()
    client = new_client(FakeSocket(), limits(rate=rate, burst=burst), clock=clock)
    clock.advance(0.2)  # long enough for 10 tokens, were there no cap

    admitted = sum(client.admit() for _ in range(20))

    assert admitted == burst


async def test_refusals_up_to_the_burst_keep_the_connection_open() -> None:
    socket = FakeSocket()
    client = new_client(socket, limits(rate=0.001, burst=4))
    for _ in range(4):
        assert client.admit()

    refused = [client.admit() for _ in range(4)]

    assert refused == [False] * 4
    assert not client.closed
    assert socket.closes == []


async def test_more_refusals_in_a_row_than_the_burst_close_with_1008() -> None:
    socket = FakeSocket()
    client = new_client(socket, limits(rate=0.001, burst=4))
    for _ in range(4):
        client.admit()
    for _ in range(4):
        client.admit()

    assert not client.admit()

    assert client.closed
    assert client.close_code == CloseCode.POLICY_VIOLATION
    assert await socket.wait_closed() == 1008


async def test_an_admitted_frame_forgives_earlier_refusals() -> None:
    rate = 20.0  # one token every 50 ms
    clock = ManualClock()
    socket = FakeSocket()
    client = new_client(socket, limits(rate=rate, burst=2), clock=clock)
    for _ in range(2):
        client.admit()
    for _ in range(2):
        client.admit()  # two strikes: the limit
    clock.advance(1.5 / rate)
    assert client.admit()  # a refilled token: the strikes start again

    refusals = 0
    while not client.closed and refusals < 100:
        refusals += not client.admit()

    assert refusals == 3  # burst + 1 in a row, counted afresh
    assert await socket.wait_closed() == 1008

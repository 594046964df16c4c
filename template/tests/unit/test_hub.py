"""The hub's bookkeeping and its drain, with real Clients on fake sockets."""

import asyncio

from tests.unit.fakes import WAIT, FakeSocket, new_client
from tests.unit.service_classes import Client, Hub


def connected(hub: Hub, n: int) -> list[tuple[Client, FakeSocket]]:
    pairs = []
    for k in range(n):
        socket = FakeSocket()
        client = new_client(socket, on_evict=hub.evict, subject=f"s{k}")
        hub.register(client)
        pairs.append((client, socket))
    return pairs


async def leave_once_closed(hub: Hub, client: Client, socket: FakeSocket) -> None:
    """What the endpoint does: unregister the client once its connection has ended."""
    await socket.wait_closed()
    hub.unregister(client)


async def test_counters_follow_connections_and_evictions() -> None:
    hub = Hub()
    left: list[Client] = []
    hub.on_unregister(left.append)
    (first, _), (second, second_socket) = connected(hub, 2)

    hub.unregister(first)
    hub.unregister(first)  # a second time changes nothing
    second_socket.stall()
    second.deliver("x")
    second.evict()

    assert len(hub) == 0
    assert left == [first, second]
    assert (hub.stats.connects, hub.stats.disconnects, hub.stats.evictions) == (2, 2, 1)


async def test_drain_closes_every_connection_with_1001() -> None:
    hub = Hub()
    pairs = connected(hub, 5)
    leaving = [asyncio.create_task(leave_once_closed(hub, *pair)) for pair in pairs]

    await asyncio.wait_for(hub.drain(within=WAIT), WAIT * 2)

    assert hub.draining
    assert len(hub) == 0
    assert [socket.closes for _, socket in pairs] == [[(1001, "server shutting down")]] * 5
    await asyncio.gather(*leaving)


async def test_drain_waits_for_requests_in_flight_before_closing() -> None:
    hub = Hub()
    [(client, socket)] = connected(hub, 1)
    leaving = asyncio.create_task(leave_once_closed(hub, client, socket))
    hub.request_started()

    draining = asyncio.create_task(hub.drain(within=WAIT))
    await asyncio.sleep(0.05)
    assert hub.draining
    assert socket.closes == []  # the request's reply can still go out
    client.deliver("the reply")

    hub.request_finished()
    await asyncio.wait_for(draining, WAIT)

    assert socket.texts == ["the reply"]
    assert socket.closes == [(1001, "server shutting down")]
    await leaving


async def test_drain_gives_up_after_its_time() -> None:
    hub = Hub()
    [(client, socket)] = connected(hub, 1)  # never unregisters: a peer that never answers
    hub.request_started()  # and a request that never finishes

    await asyncio.wait_for(hub.drain(within=0.2), WAIT)

    assert client.closed
    assert await socket.wait_closed() == 1001
    assert len(hub) == 1

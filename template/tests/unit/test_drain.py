"""The drain at shutdown, with real Clients on fake sockets."""

import asyncio

from tests.unit.fakes import WAIT, FakeSocket, connected
from tests.unit.service_classes import Client, Drain, Hub


async def leave_once_closed(hub: Hub, client: Client, socket: FakeSocket) -> None:
    """What the endpoint does: unregister the client once its connection has ended."""
    await socket.wait_closed()
    hub.unregister(client)


async def test_drain_closes_every_connection_with_1001() -> None:
    hub = Hub()
    drain = Drain(hub)
    pairs = connected(hub, 5)
    leaving = [asyncio.create_task(leave_once_closed(hub, *pair)) for pair in pairs]

    await asyncio.wait_for(drain.run(within=WAIT), WAIT * 2)

    assert drain.draining
    assert len(hub) == 0
    assert [socket.closes for _, socket in pairs] == [[(1001, "server shutting down")]] * 5
    await asyncio.gather(*leaving)


async def test_drain_waits_for_requests_in_flight_before_closing() -> None:
    hub = Hub()
    drain = Drain(hub)
    [(client, socket)] = connected(hub, 1)
    leaving = asyncio.create_task(leave_once_closed(hub, client, socket))
    answered = asyncio.Event()

    async def request() -> None:
        with drain.request():
            await answered.wait()
            client.deliver("the reply")

    running = asyncio.create_task(request())
    await asyncio.sleep(0)
    draining = asyncio.create_task(drain.run(within=WAIT))
    await asyncio.sleep(0.05)
    assert drain.draining
    assert socket.closes == []  # the request's reply can still go out

    answered.set()
    await asyncio.wait_for(draining, WAIT)
    await running

    assert socket.texts == ["the reply"]
    assert socket.closes == [(1001, "server shutting down")]
    await leaving


async def test_drain_gives_up_after_its_time() -> None:
    hub = Hub()
    drain = Drain(hub)
    [(client, socket)] = connected(hub, 1)  # never unregisters: a peer that never answers

    async def request() -> None:
        with drain.request():
            await asyncio.Event().wait()  # a request that never finishes

    running = asyncio.create_task(request())
    await asyncio.sleep(0)
    await asyncio.wait_for(drain.run(within=0.2), WAIT)
    running.cancel()

    assert client.closed
    assert await socket.wait_closed() == 1001
    assert len(hub) == 1

"""Connection limits and close codes, each on a service started with the settings it needs."""

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.e2e.credentials import auth_headers
from tests.e2e.harness import (
    WAIT,
    Peer,
    Server,
    new_id,
    open_peer,
    read_until_closed,
    running,
    stalled_connection,
)
from tests.samples import (
    COLLECTION,
    MAX_TEXT,
    TEXT_FIELDS,
    large_data,
    message_type,
)

CREATE = message_type("create")
CREATED = message_type("created")
MAX_MESSAGE_BYTES = 4096
SEND_QUEUE_SIZE = 8
FLOOD_BATCH = 25
FLOOD_LIMIT = 4000  # events; far more than the socket buffers of one stalled reader hold
BACKLOG_BYTES = 6_000_000  # more than Linux lets loopback sockets buffer by default


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[Server]:
    with running(tmp_path) as server:
        yield server


async def test_a_binary_frame_closes_with_1003(peer: Peer) -> None:
    await peer.connection.send(b'{"type": "ping", "id": "p-1"}')

    closed = await read_until_closed(peer.connection)

    assert closed.code == 1003


async def test_a_frame_over_max_message_bytes_closes_with_1009(tmp_path: Path) -> None:
    with running(tmp_path, MAX_MESSAGE_BYTES=str(MAX_MESSAGE_BYTES)) as server:
        async with open_peer(server) as peer:
            padding = "x" * (MAX_MESSAGE_BYTES - 100)
            assert (await peer.request("ping", {"padding": padding}))["type"] == "pong"

            await peer.send({"type": "ping", "id": "too-big", "data": {"padding": padding * 2}})
            closed = await read_until_closed(peer.connection)

    assert closed.code == 1009


async def test_sigterm_closes_connections_with_1001_and_exits_0(fresh_server: Server) -> None:
    async with open_peer(fresh_server) as peer:
        await peer.request("ping")

        fresh_server.terminate()
        closed = await read_until_closed(peer.connection)
        exit_code = await asyncio.to_thread(fresh_server.process.wait, WAIT * 3)

    assert closed.code == 1001
    assert exit_code == 0


async def test_connections_over_max_connections_get_503(tmp_path: Path) -> None:
    with running(tmp_path, MAX_CONNECTIONS="1") as server:
        async with open_peer(server) as first:
            await first.request("ping")

            with pytest.raises(InvalidStatus) as refused:
                await connect(server.ws_url, open_timeout=WAIT, additional_headers=auth_headers())
            assert refused.value.response.status_code == 503

            assert (await first.request("ping"))["type"] == "pong"


async def slot_is_free(server: Server) -> bool:
    """Whether one more connection is accepted (the probe closes again at once)."""
    try:
        async with connect(server.ws_url, open_timeout=WAIT, additional_headers=auth_headers()):
            return True
    except InvalidStatus as refused:
        status = refused.response.status_code
    assert status == 503
    return False


async def flood_until_evicted(server: Server, http: httpx.AsyncClient) -> list[str]:
    """Create large entities until the stalled client's slot frees; the ids, in order."""
    created: list[str] = []
    while len(created) < FLOOD_LIMIT:
        for _ in range(FLOOD_BATCH):
            response = await http.post(COLLECTION, json=large_data(len(created)))
            assert response.status_code == 201, response.text
            created.append(response.json()["id"])
        if await slot_is_free(server):
            return created
    pytest.fail(f"the stalled client was not evicted after {len(created)} events")


async def test_a_slow_consumer_is_evicted_with_1013(tmp_path: Path) -> None:
    """A reader that stalls is dropped; one that keeps up misses nothing.

    With MAX_CONNECTIONS=2 the healthy and the stalled client fill every slot, and the hub
    frees the stalled client's slot the moment it evicts it: a third connection being
    accepted is how the test knows the eviction happened without reading the stalled socket.
    """
    settings = {"SEND_QUEUE_SIZE": str(SEND_QUEUE_SIZE), "MAX_CONNECTIONS": "2"}
    with running(tmp_path, None, **settings) as server:
        async with (
            open_peer(server, max_queue=None) as healthy,
            stalled_connection(server) as stalled,
            httpx.AsyncClient(
                base_url=server.base_url, timeout=WAIT, headers=auth_headers()
            ) as http,
        ):
            await healthy.request("ping")
            assert not await slot_is_free(server)  # both connections hold a slot

            created = await flood_until_evicted(server, http)

            events = [await healthy.receive() for _ in created]
            closed = await read_until_closed(stalled)

    assert [(event["type"], event["data"]["id"]) for event in events] == [
        (CREATED, entity_id) for entity_id in created
    ]
    assert closed.code == 1013
    assert closed.frames < len(created)


@pytest.mark.skipif(not TEXT_FIELDS, reason="small events would take too long to back up")
async def test_a_stalled_client_cannot_hold_up_the_shutdown(tmp_path: Path) -> None:
    # Queues that never evict: the stalled client stays, with its backlog, until shutdown.
    settings = {
        "SEND_QUEUE_SIZE": "1000000",
        "SEND_QUEUE_BYTES": "100000000",
        "SHUTDOWN_TIMEOUT": "1",
    }
    with running(tmp_path, None, **settings) as server:
        async with (
            stalled_connection(server),
            open_peer(server, max_queue=None) as healthy,
        ):
            # More than the socket buffers hold: the stalled client's close frame must wait.
            requests = [new_id() for _ in range(BACKLOG_BYTES // (MAX_TEXT * len(TEXT_FIELDS)))]
            for n, request_id in enumerate(requests):
                await healthy.send({"type": CREATE, "id": request_id, "data": large_data(n)})
            for request_id in requests:
                assert (await healthy.reply_to(request_id))["type"] == "ack"

            server.terminate()
            closed = await read_until_closed(healthy.connection)
            exit_code = await asyncio.to_thread(server.process.wait, WAIT * 3)

    assert closed.code == 1001
    assert exit_code == 0

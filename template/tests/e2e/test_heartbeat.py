"""The application-level heartbeat, against a service that pings after a second of silence.

The settings leave margins that hold on a loaded machine: a ping may take up to TIMEOUT to be
answered, and the chatty client's gaps are a twentieth of INTERVAL plus one round trip.
"""

import asyncio
import json
import time
from collections.abc import Iterator

import pytest
from websockets.asyncio.client import connect

from tests.e2e.credentials import auth_headers
from tests.e2e.harness import WAIT, Server, metrics, open_peer, running, wait_for_log

INTERVAL = 1.0
TIMEOUT = 2.0


@pytest.fixture(scope="module")
def beating_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    settings = {"HEARTBEAT_INTERVAL": str(INTERVAL), "HEARTBEAT_TIMEOUT": str(TIMEOUT)}
    with running(tmp_path_factory.mktemp("heartbeat"), None, **settings) as server:
        yield server


async def test_an_idle_client_that_answers_pings_stays_connected(beating_server: Server) -> None:
    async with open_peer(beating_server, join=False) as peer:
        loop = asyncio.get_running_loop()
        # A second past a silent client's end, and time for two rounds of pings.
        deadline = loop.time() + 2 * INTERVAL + TIMEOUT
        pings: list[str] = []
        while (left := deadline - loop.time()) > 0:
            try:
                text = await asyncio.wait_for(peer.connection.recv(), left)
            except TimeoutError:
                break
            frame = json.loads(text)
            assert frame["type"] == "ping", frame
            assert isinstance(frame["id"], str)
            assert frame["id"]
            pings.append(frame["id"])
            await peer.send({"type": "pong", "id": frame["id"]})  # no reply to a pong

        reply = await peer.request("ping")

    assert len(pings) >= 2
    assert len(set(pings)) == len(pings)
    assert reply["type"] == "pong"


async def test_a_client_that_never_answers_is_closed_with_4000(beating_server: Server) -> None:
    started = time.monotonic()
    async with connect(
        beating_server.ws_url, additional_headers=auth_headers("bob"), open_timeout=WAIT
    ) as connection:
        # Read nothing, answer nothing: websockets still completes the closing handshake.
        await asyncio.wait_for(connection.wait_closed(), INTERVAL + TIMEOUT + WAIT)
        code = connection.close_code
    elapsed = time.monotonic() - started

    assert code == 4000
    assert elapsed >= INTERVAL + TIMEOUT - 0.01  # silence is measured from the connection
    record = await wait_for_log(beating_server, "heartbeat_timeout")
    assert record["level"] == "info"
    await wait_for_log(beating_server, "close", code=4000)
    assert (await metrics(beating_server))["realtime_heartbeat_timeouts_total"] >= 1


async def test_the_service_still_answers_a_client_ping(beating_server: Server) -> None:
    async with open_peer(beating_server, join=False) as peer:
        reply = await peer.request("ping", {"n": 17}, "client-ping-1")

    assert reply["type"] == "pong"
    assert reply["id"] == "client-ping-1"
    assert reply["data"] == {"n": 17}


async def test_a_client_that_keeps_talking_is_not_pinged(beating_server: Server) -> None:
    async with open_peer(beating_server, join=False) as peer:
        loop = asyncio.get_running_loop()
        chatter_until = loop.time() + 1.5 * INTERVAL  # a silent client is pinged meanwhile
        while loop.time() < chatter_until:
            assert (await peer.request("ping"))["type"] == "pong"
            await asyncio.sleep(INTERVAL / 20)

    assert peer.events == []

"""Per-connection limits on a real service: the inbound rate limit, the outbound byte budget,
and the /metrics counters that report them."""

import asyncio
import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from tests.e2e.credentials import auth_headers
from tests.e2e.harness import (
    WAIT,
    Frame,
    Server,
    log_records,
    metrics,
    new_id,
    open_peer,
    read_until_closed,
    refusal,
    running,
    stalled_connection,
    wait_for_log,
)
from tests.samples import COLLECTION, message_type, valid_data

CREATE = message_type("create")
RATE = 5  # frames per second, on average
BURST = 10  # frames at once
RATE_LIMITS = {"RATE_LIMIT_PER_SECOND": str(RATE), "RATE_LIMIT_BURST": str(BURST)}
QUEUE_BYTES = 100_000
PADDING = 50_000  # characters of each ping's data, echoed back in its pong
MAX_PINGS = 400  # 20 MB: far more than loopback sockets buffer for one stalled reader
COUNTERS = (
    "connects",
    "disconnects",
    "evictions",
    "refusals",
    "rate_limited",
    "heartbeat_timeouts",
)


@pytest.fixture(scope="module")
def limited_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running(tmp_path_factory.mktemp("limits"), None, **RATE_LIMITS) as server:
        yield server


async def total(server: Server) -> int:
    """How many entities the service holds, asked over REST (which has no rate limit)."""
    async with httpx.AsyncClient(
        base_url=server.base_url, timeout=WAIT, headers=auth_headers()
    ) as http:
        response = await http.get(COLLECTION, params={"limit": 1})
    assert response.status_code == 200, response.text
    count = response.json()["total"]
    assert isinstance(count, int)
    return count


async def test_a_burst_beyond_the_limit_is_refused_frame_by_frame(limited_server: Server) -> None:
    before = await total(limited_server)
    async with open_peer(limited_server, join=False) as peer:
        ids = [new_id() for _ in range(2 * BURST)]  # no more refusals in a row than BURST
        started = time.monotonic()
        for n, request_id in enumerate(ids):
            await peer.send({"type": CREATE, "id": request_id, "data": valid_data(n)})
        replies = [await peer.reply_to(request_id) for request_id in ids]
        elapsed = time.monotonic() - started

        await asyncio.sleep(2 / RATE)  # tokens come back: the connection is still usable
        still_open = await peer.request("ping")

    acked = [reply["id"] for reply in replies if reply["type"] == "ack"]
    refused = [reply for reply in replies if reply["type"] != "ack"]
    assert acked[:BURST] == ids[:BURST]  # the bucket starts full
    assert BURST <= len(acked) <= BURST + RATE * elapsed + 1
    assert len(acked) + len(refused) == len(ids)
    for reply in refused:
        assert reply["type"] == "error", reply
        assert reply["data"]["code"] == "rate_limited", reply
        assert reply["id"] in ids
    assert await total(limited_server) - before == len(acked)  # refused creates ran nowhere
    assert still_open["type"] == "pong"


async def test_a_client_that_keeps_flooding_is_closed_with_1008(limited_server: Server) -> None:
    async with open_peer(limited_server, join=False) as peer:
        with contextlib.suppress(ConnectionClosed):
            for n in range(10 * BURST):
                await peer.send({"type": "ping", "id": f"flood-{n}"})
        closed = await read_until_closed(peer.connection)

    assert closed.code == 1008
    assert closed.frames < 10 * BURST  # some pongs, then rate_limited errors, then no more
    await wait_for_log(limited_server, "close", code=1008)


async def test_metrics_count_connections_refusals_and_rate_limited_frames(
    tmp_path: Path,
) -> None:
    with running(tmp_path, None, **RATE_LIMITS) as server:
        start = await metrics(server)
        async with open_peer(server, join=False) as peer:
            connected = await metrics(server)
            status, _ = await refusal(
                server, additional_headers=auth_headers() | {"Origin": "https://evil.example"}
            )
            # Twice the burst: only a stall of BURST / RATE seconds would let them all through.
            for n in range(2 * BURST):
                await peer.send({"type": "ping", "id": f"p-{n}"})
            replies = [await peer.reply_to(f"p-{n}") for n in range(2 * BURST)]
            during = await metrics(server)
        after = await wait_for_metric(server, "realtime_connections", 0)

    names = {"realtime_connections"} | {f"realtime_{name}_total" for name in COUNTERS}
    assert set(start) == names
    assert all(value == 0 for value in start.values()), start
    assert connected["realtime_connections"] == 1
    assert connected["realtime_connects_total"] == 1
    assert status == 403
    limited = sum(reply["type"] == "error" for reply in replies)
    assert limited >= 1
    assert during["realtime_refusals_total"] == 1
    assert during["realtime_rate_limited_total"] == limited
    assert after["realtime_disconnects_total"] == 1
    assert after["realtime_connects_total"] == 1


async def wait_for_metric(server: Server, name: str, value: float) -> dict[str, float]:
    """The metrics, once `name` has reached `value`."""
    deadline = time.monotonic() + WAIT
    while (samples := await metrics(server))[name] != value:
        assert time.monotonic() < deadline, samples
        await asyncio.sleep(0.02)
    return samples


async def flood_with_pongs(server: Server, connection: ClientConnection) -> int:
    """Send large pings, whose pongs back up behind the unread socket, until the service
    evicts the connection; how many were sent."""
    ping: Frame = {"type": "ping", "data": {"padding": "x" * PADDING}}
    for n in range(1, MAX_PINGS + 1):
        await asyncio.wait_for(connection.send(json.dumps(ping | {"id": f"big-{n}"})), WAIT)
        if n % 5 == 0 and (await metrics(server))["realtime_evictions_total"]:
            return n
    pytest.fail(f"not evicted after {MAX_PINGS} pings of {PADDING} characters")


async def test_a_stalled_reader_is_evicted_by_bytes_with_1013(tmp_path: Path) -> None:
    """SEND_QUEUE_SIZE would allow a million frames: only SEND_QUEUE_BYTES can evict."""
    settings = {"SEND_QUEUE_SIZE": "1000000", "SEND_QUEUE_BYTES": str(QUEUE_BYTES)}
    with running(tmp_path, None, **settings) as server:
        async with (
            open_peer(server, join=False) as healthy,
            stalled_connection(server, join=False) as stalled,
        ):
            sent = await flood_with_pongs(server, stalled)
            closed = await read_until_closed(stalled)
            still_served = await healthy.request("ping")

        counters = await metrics(server)
        await wait_for_log(server, "close", code=1013)
        evictions = [
            record
            for record in log_records(server)
            if record["message"].startswith("evicting slow consumer")
        ]

    assert closed.code == 1013
    assert closed.frames < sent  # pongs were dropped, not all delivered late
    assert still_served["type"] == "pong"
    assert counters["realtime_evictions_total"] == 1
    assert [record["level"] for record in evictions] == ["warning"]

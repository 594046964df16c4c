"""Shutting down: SIGTERM and SIGINT drain every connection with 1001 and exit 0; and the
structured logs that tell operators what happened."""

import asyncio
import re
import signal
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from importlib import import_module
from pathlib import Path

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.e2e.credentials import auth_headers
from tests.e2e.harness import (
    STOP_TIMEOUT,
    WAIT,
    Peer,
    Server,
    events_logged,
    log_records,
    new_id,
    open_peer,
    read_until_closed,
    refusal,
    running,
    wait_for_log,
)
from tests.samples import AUTH, PACKAGE, message_type, valid_data

CREATE = message_type("create")
DRAIN_BATCH: int = import_module(f"{PACKAGE}.delivery.websocket.drain").DRAIN_BATCH
CONNECTIONS = 40
SUBJECTS = ("alice", "bob", "carol")
FOREIGN_ORIGIN = {"Origin": "https://evil.example"}
TEXT_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) \S+ .+$")


@asynccontextmanager
async def open_peers(server: Server, n: int) -> AsyncIterator[list[Peer]]:
    async with AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(
                open_peer(server, SUBJECTS[k % len(SUBJECTS)], join=False)
            )
            for k in range(n)
        ]


@contextmanager
def write_lock(database: Path) -> Iterator[sqlite3.Connection]:
    """Hold SQLite's write lock, so that the service's next write waits (its busy timeout
    is 5 s) until the block ends."""
    holder = sqlite3.connect(database, isolation_level=None, timeout=WAIT)
    try:
        holder.execute("BEGIN IMMEDIATE")
        yield holder
    finally:
        holder.close()  # rolls back, releasing the lock


async def handshake_refused_with(server: Server) -> int:
    """Open connections until the service refuses one; the refusal's HTTP status.

    Uvicorn notices a signal within a tenth of a second: until then handshakes succeed.
    """
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        try:
            async with connect(server.ws_url, open_timeout=WAIT, additional_headers=auth_headers()):
                pass
        except InvalidStatus as refused:
            return refused.response.status_code
        await asyncio.sleep(0.02)
    raise AssertionError(f"handshakes still accepted {WAIT} s after the signal")


async def exit_code(server: Server) -> int:
    return await asyncio.to_thread(server.process.wait, STOP_TIMEOUT)


async def close_code(peer: Peer) -> int | None:
    """The code of the service's close frame, once the connection has ended."""
    await asyncio.wait_for(peer.connection.wait_closed(), STOP_TIMEOUT)
    return peer.connection.close_code


async def test_sigterm_drains_every_connection_with_1001_after_requests_in_flight(
    tmp_path: Path,
) -> None:
    """A create is kept waiting on the database while SIGTERM arrives: the drain refuses
    newcomers with 503 (and says so on /ready), lets the create answer, then closes everyone
    with 1001."""
    with running(tmp_path, None, SHUTDOWN_TIMEOUT="10") as server:
        async with open_peers(server, CONNECTIONS) as peers:
            busy, witness = peers[0], peers[1]
            request_id = new_id()
            with write_lock(server.database):
                await busy.send({"type": CREATE, "id": request_id, "data": valid_data()})
                # The service reads frames in arrival order: once the witness's later ping is
                # answered, the create has started, and it waits for the lock.
                assert (await witness.request("ping"))["type"] == "pong"
                server.terminate()
                status = await handshake_refused_with(server)
                async with httpx.AsyncClient(base_url=server.base_url, timeout=WAIT) as http:
                    ready = await http.get("/ready")
            reply = await busy.reply_to(request_id)
            closes = await asyncio.gather(*(read_until_closed(p.connection) for p in peers))
        code = await exit_code(server)

    assert status == 503
    assert (ready.status_code, ready.json()) == (503, {"status": "draining"})
    assert reply["type"] == "ack", reply
    assert [closed.code for closed in closes] == [1001] * CONNECTIONS
    assert code == 0
    assert len(events_logged(server, "refuse", status=503)) >= 1
    assert len(events_logged(server, "close", code=1001)) >= CONNECTIONS
    assert len(events_logged(server, "connect")) >= CONNECTIONS
    assert events_logged(server, "drain")


async def test_sigint_drains_with_1001_and_exits_0(tmp_path: Path) -> None:
    with running(tmp_path) as server:
        async with open_peers(server, 5) as peers:
            for peer in peers:
                assert (await peer.request("ping"))["type"] == "pong"

            server.process.send_signal(signal.SIGINT)
            closes = await asyncio.gather(*(read_until_closed(p.connection) for p in peers))
        code = await exit_code(server)

    assert [closed.code for closed in closes] == [1001] * 5
    assert code == 0


async def test_a_drain_beyond_one_batch_closes_every_connection_with_1001(
    tmp_path: Path,
) -> None:
    """More connections than the drain closes at once: its batches run more than once, and
    every connection, in the first batch or the last, gets 1001 before the deadline."""
    connections = DRAIN_BATCH + 50
    with running(tmp_path, None, SHUTDOWN_TIMEOUT="10") as server:
        async with open_peers(server, connections) as peers:
            server.terminate()
            codes = await asyncio.gather(*(close_code(peer) for peer in peers))
        code = await exit_code(server)

    assert codes == [1001] * connections
    assert code == 0
    [drain] = events_logged(server, "drain")
    assert drain["message"] == f"draining {connections} connections"
    assert len(events_logged(server, "close", code=1001)) == connections
    assert "still open" not in server.output()  # all of them went within SHUTDOWN_TIMEOUT


async def test_json_logs_are_one_object_per_line_with_events(tmp_path: Path) -> None:
    with running(tmp_path) as server:
        async with open_peer(server, join=False) as peer:
            await peer.request("ping")
        status, _ = await refusal(server, additional_headers=auth_headers() | FOREIGN_ORIGIN)
        statuses = {status}
        if AUTH != "none":
            status, _ = await refusal(server, additional_headers={"Authorization": "Bearer x"})
            statuses.add(status)
        await wait_for_log(server, "close")
        server.terminate()
        assert await exit_code(server) == 0

    records = log_records(server)  # every line parses
    assert records
    for record in records:
        assert {"time", "level", "logger", "message"} <= set(record), record
        assert record["level"] in {"debug", "info", "warning", "error"}, record
    assert "\x1b" not in server.output()  # no terminal colour codes (uvicorn's color_message)
    assert statuses == ({403} if AUTH == "none" else {401, 403})
    [connect_record] = events_logged(server, "connect")
    assert isinstance(connect_record["subject"], str)
    [close_record] = events_logged(server, "close")
    assert close_record["subject"] == connect_record["subject"]
    assert isinstance(close_record["code"], int)
    assert {record["status"] for record in events_logged(server, "refuse")} == statuses


async def test_text_logs_are_plain_lines(tmp_path: Path) -> None:
    with running(tmp_path, None, LOG_FORMAT="text") as server:
        async with open_peer(server, join=False) as peer:
            await peer.request("ping")
        await refusal(server, additional_headers=auth_headers() | FOREIGN_ORIGIN)
        server.terminate()
        assert await exit_code(server) == 0

    lines = [line for line in server.output().splitlines() if line.strip()]
    assert lines
    for line in lines:
        assert TEXT_LINE.match(line), line
        assert not line.startswith("{"), line
    messages = [line.split(" ", 4)[-1] for line in lines]
    assert "connected" in messages
    assert "closed" in messages
    assert "refused" in messages

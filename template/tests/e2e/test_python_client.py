"""The project's Python client against the real service: requests, events, reconnection."""

import asyncio
import json
import os
import signal
import subprocess
import sys
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest

from tests.e2e.credentials import auth_headers, token_for
from tests.e2e.harness import SRC, WAIT, Server, free_port, running
from tests.samples import (
    COLLECTION,
    ENTITY,
    PACKAGE,
    PLURAL,
    ROOMS,
    RealtimeClient,
    RequestError,
    valid_data,
)


def service_on(port: int, workdir: Path, **settings: str) -> AbstractContextManager[Server]:
    """The service on a given port, so that a restarted one is found at the same address."""
    return running(workdir, workdir / "db.sqlite3", PORT=str(port), **settings)


async def test_requests_and_events(tmp_path: Path) -> None:
    port = free_port()
    with service_on(port, tmp_path) as server:
        async with RealtimeClient(server.ws_url, token_for("alice")) as client:
            if ROOMS:
                assert (await client.join(PLURAL))["room"] == PLURAL
            created = await client.request(f"{ENTITY}.create", valid_data())
            event = await client.next_event(WAIT)
            with pytest.raises(RequestError) as missing:
                await client.request(f"{ENTITY}.get", {"id": "no-such-id"})

    assert event["type"] == f"{ENTITY}.created"
    assert event["data"] == created
    assert missing.value.code == "not_found"


async def test_a_server_restart_is_survived_and_a_pending_request_runs_once(
    tmp_path: Path,
) -> None:
    port = free_port()
    with service_on(port, tmp_path) as first:
        client = RealtimeClient(first.ws_url, token_for("alice"), backoff_base=0.1, backoff_max=1)
        await client.start(WAIT)
        if ROOMS:
            await client.join(PLURAL)
        assert first.stop() == 0

    # Sent while the service is down: the client keeps it and re-sends it once reconnected.
    pending = asyncio.create_task(client.request(f"{ENTITY}.create", valid_data(), id="once-1"))
    await asyncio.sleep(0.3)  # the outage lasts a while: a duration, not a wait for an event
    with service_on(port, tmp_path):
        try:
            created = await asyncio.wait_for(pending, WAIT * 3)
            event = await client.next_event(WAIT)
            replayed = await client.request(f"{ENTITY}.create", valid_data(), id="once-1")
            page = await client.request(f"{ENTITY}.list", {"limit": 10})
        finally:
            await client.close()

    assert client.connects == 2
    assert event["type"] == f"{ENTITY}.created"  # the room was rejoined
    assert event["data"]["id"] == created["id"]
    assert replayed == created
    assert page["total"] == 1


async def test_silence_past_the_heartbeat_window_means_reconnecting(tmp_path: Path) -> None:
    port = free_port()
    with service_on(port, tmp_path) as server:
        client = RealtimeClient(server.ws_url, token_for("alice"), heartbeat_window=0.5)
        await client.start(WAIT)
        try:
            deadline = asyncio.get_running_loop().time() + 3 * WAIT  # silence, backoff, connect
            while client.connects < 2:
                assert asyncio.get_running_loop().time() < deadline, "it did not reconnect"
                await asyncio.sleep(0.05)
            answer = await client.request("ping")
        finally:
            await client.close()

    assert client.connects >= 2
    assert answer == {}


def test_the_command_line_sends_a_request(tmp_path: Path) -> None:
    port = free_port()
    with service_on(port, tmp_path) as server:
        env = {**os.environ, "PYTHONPATH": str(SRC)}
        token = token_for("alice")
        if token is not None:
            env["REALTIME_TOKEN"] = token
        command = [sys.executable, "-m", f"{PACKAGE}_client", "--url", server.ws_url]
        finished = subprocess.run(
            [*command, "send", f"{ENTITY}.list", '{"limit": 5}'],
            env=env,
            capture_output=True,
            text=True,
            timeout=WAIT * 4,
            check=False,
        )

    assert finished.returncode == 0, finished.stderr
    assert json.loads(finished.stdout) == {"items": [], "total": 0}


async def test_the_command_line_listens_prints_each_event_and_stops_on_ctrl_c(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    token = token_for("alice")
    if token is not None:
        env["REALTIME_TOKEN"] = token
    rooms = ["--room", PLURAL] if ROOMS else []
    with service_on(free_port(), tmp_path) as server:
        listener = await asyncio.create_subprocess_exec(
            *[sys.executable, "-m", f"{PACKAGE}_client", "--url", server.ws_url, "listen", *rooms],
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert listener.stdout is not None
        assert listener.stderr is not None
        try:
            ready = await asyncio.wait_for(listener.stderr.readline(), WAIT * 4)
            async with httpx.AsyncClient(
                base_url=server.base_url, headers=auth_headers("bob"), timeout=WAIT
            ) as http:
                created = await http.post(COLLECTION, json=valid_data())
            printed = await asyncio.wait_for(listener.stdout.readline(), WAIT * 2)
            listener.send_signal(signal.SIGINT)
            status = await asyncio.wait_for(listener.wait(), WAIT * 2)
            complaints = (await listener.stderr.read()).decode()
        finally:
            if listener.returncode is None:
                listener.kill()
                await listener.wait()

    assert ready.decode() == f"listening on {server.ws_url}\n"
    assert created.status_code == 201, created.text
    event = json.loads(printed)
    assert event["type"] == f"{ENTITY}.created"
    assert event["data"] == created.json()
    assert status == 130  # interrupted, as a shell expects of Ctrl-C
    assert complaints == ""  # no traceback

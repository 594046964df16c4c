"""The client's command line as a user meets it: its help, one-line failures with their exit
statuses, publishing to a room, and a `listen` that says when the service went away and came
back.

Each test runs `python -m <package>_client` as a child process against the real service (or
against a port where nothing listens) and reads what a person or a script would: stdout, stderr
and the exit status.
"""

import asyncio
import json
import os
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.credentials import auth_headers, expected_subject, jwt_token, token_for
from tests.e2e.harness import SRC, WAIT, Server, free_port, open_peer, refusal, running
from tests.samples import AUTH, COLLECTION, ENTITY, PACKAGE, PLURAL, ROOMS, valid_data

PROG = f"python -m {PACKAGE}_client"
PATIENCE = WAIT * 4  # seconds a child process may take to start and answer on a loaded machine
# Seconds until a listener is back after a restart: its backoff window has grown meanwhile.
BACK_WITHIN = WAIT * 12
AGAIN = r", reconnecting in \d+\.\d s\n"  # the end of each line that says what went wrong


@dataclass(frozen=True)
class Finished:
    status: int | None
    out: str
    err: str


def cli_env(token: str | None) -> dict[str, str]:
    """This environment with the client on the path, and `token` (if any) as the one the
    command line takes by default."""
    env = {key: value for key, value in os.environ.items() if key != "REALTIME_TOKEN"}
    env["PYTHONPATH"] = str(SRC)
    if token is not None:
        env["REALTIME_TOKEN"] = token
    return env


async def spawn(*args: str, token: str | None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", f"{PACKAGE}_client", *args],
        env=cli_env(token),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def cli(*args: str, token: str | None = None) -> Finished:
    """Run the command line to its end."""
    process = await spawn(*args, token=token)
    try:
        out, err = await asyncio.wait_for(process.communicate(), PATIENCE)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    return Finished(process.returncode, out.decode(), err.decode())


async def line(stream: asyncio.StreamReader | None, within: float = PATIENCE) -> str:
    assert stream is not None
    return (await asyncio.wait_for(stream.readline(), within)).decode()


@asynccontextmanager
async def listening(
    url: str, *args: str, token: str | None
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`listen` running, once it says it listens; killed at the end if it is still running."""
    listener = await spawn("--url", url, "listen", *args, token=token)
    try:
        assert await line(listener.stderr) == f"listening on {url}\n"
        yield listener
    finally:
        if listener.returncode is None:
            listener.kill()
            await listener.wait()


@contextmanager
def nothing_listening() -> Iterator[str]:
    """The URL of a loopback port that is bound but not listening: connecting is refused at
    once, as it is when the service is not running."""
    with socket.socket() as reserved:
        reserved.bind(("127.0.0.1", 0))
        yield f"ws://127.0.0.1:{reserved.getsockname()[1]}/ws"


def described(help_text: str, pattern: str) -> set[str]:
    """The names in `help_text`'s lines that match `pattern` (a name, then two spaces) and go
    on with a description."""
    return {
        found[1] for row in help_text.splitlines() if (found := re.match(pattern + r"  +\S", row))
    }


async def test_help_names_the_command_and_says_what_each_command_and_option_is_for() -> None:
    general = await cli("--help")
    listen = await cli("listen", "--help")

    assert general.status == 0, general.err
    assert general.out.startswith(f"usage: {PROG} [-h] [--url URL]")
    commands = {"listen", "send"} | ({"publish"} if ROOMS else set())
    assert described(general.out, r"^    ([a-z]+)") == commands
    options = {"--url", "--timeout"} | ({"--token"} if AUTH != "none" else set())
    assert described(general.out, r"^  (--[a-z]+)(?: [A-Z]+)?") == options
    words = " ".join(general.out.split())  # as read, whatever the line breaks
    assert "(default: ws://127.0.0.1:8000/ws)" in words
    assert ("(default: $REALTIME_TOKEN;" in words) == (AUTH != "none")
    assert described(general.out, r"^  (\d+)") == {"0", "1", "2", "3", "4", "130"}  # exit status
    assert listen.status == 0, listen.err
    assert listen.out.startswith(f"usage: {PROG} listen")
    assert (f"(default: {PLURAL}," in " ".join(listen.out.split())) == ROOMS


@pytest.mark.parametrize("token", [None, "not-a-token-of-anyone-0123456789"], ids=["none", "wrong"])
async def test_a_refused_token_is_one_line_with_the_services_reason_and_status_3(
    server: Server, token: str | None
) -> None:
    if AUTH == "none":
        pytest.skip("without auth every caller is the same subject")
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    status, error = await refusal(server, additional_headers=headers)

    finished = await cli("--url", server.ws_url, "send", f"{ENTITY}.list", token=token)

    assert finished.status == 3
    assert finished.out == ""
    reason = f"HTTP {status}: {error['message']}"
    assert finished.err == f"{server.ws_url} refused the connection: {reason}\n"


@pytest.mark.parametrize("command", [["send", "ping"], ["listen"]], ids=["send", "listen"])
async def test_a_service_that_is_down_is_reported_at_once_with_status_4(
    command: list[str],
) -> None:
    with nothing_listening() as url:
        # Were the first connection retried until --timeout, this would take an hour and the
        # child process would be killed after PATIENCE seconds, failing the test.
        finished = await cli("--url", url, "--timeout", "3600", *command, token=token_for())

    assert finished.status == 4
    assert finished.out == ""
    assert finished.err == f"cannot reach {url}: is the service running (make run)?\n"


async def test_an_error_reply_prints_its_code_and_message_and_status_1(server: Server) -> None:
    async with open_peer(server) as peer:
        expected = await peer.request(f"{ENTITY}.get", {"id": "no-such-id"})
    assert expected["data"]["code"] == "not_found", expected

    data = '{"id": "no-such-id"}'
    finished = await cli("--url", server.ws_url, "send", f"{ENTITY}.get", data, token=token_for())

    assert finished.status == 1
    assert finished.out == ""
    assert finished.err == f"error: not_found: {expected['data']['message']}\n"


async def test_data_that_is_not_a_json_object_is_a_usage_error_found_before_connecting() -> None:
    with nothing_listening() as url:  # a connection would fail with status 4
        finished = await cli("--url", url, "send", f"{ENTITY}.create", "[1, 2]", token=token_for())

    assert finished.status == 2
    assert finished.out == ""
    assert "argument DATA: not a JSON object: [1, 2]" in finished.err
    assert "Traceback" not in finished.err


async def test_publish_joins_the_room_and_reaches_a_listener_there(server: Server) -> None:
    if not ROOMS:
        pytest.skip("rooms are off")
    room = "cli-lobby"
    async with listening(server.ws_url, "--room", room, token=token_for("alice")) as listener:
        published = await cli(
            "--url", server.ws_url, "publish", room, "hello from bob", token=token_for("bob")
        )
        printed = await line(listener.stdout)

    assert published.status == 0, published.err
    assert json.loads(published.out)["room"] == room
    message = json.loads(printed)
    assert message["type"] == "room.message"
    assert message["room"] == room
    assert message["data"] == {"from": expected_subject("bob"), "payload": "hello from bob"}


async def test_a_listen_whose_token_expires_ends_with_one_line_and_status_1(
    server: Server,
) -> None:
    if AUTH != "jwt":
        pytest.skip("JSON Web Tokens only (auth = jwt)")
    lifetime = WAIT * 2  # time enough for a child process to start and connect, when loaded
    token = jwt_token("alice", lifetime=lifetime)
    async with listening(server.ws_url, token=token) as listener:
        # It stops, rather than waiting forever for events that cannot come.
        status = await asyncio.wait_for(listener.wait(), lifetime + PATIENCE)
        assert listener.stderr is not None
        said = (await listener.stderr.read()).decode()

    assert status == 1
    assert said == "error: closed: the service closed with 1008: credentials expired\n"


async def until_back(listener: asyncio.subprocess.Process) -> tuple[list[str], str]:
    """What `listen` says on stderr until it is back: its failed attempts, then that line."""
    retries = []
    while not (said := await line(listener.stderr, BACK_WITHIN)).startswith("reconnected"):
        retries.append(said)
    return retries, said


async def rejoined(server: Server, subject: str) -> None:
    """Wait until `subject` is back in the entity's room: the listener rejoins it on its own,
    and only then do the room's events reach it."""
    async with open_peer(server, "carol", join=False) as peer:
        deadline = asyncio.get_running_loop().time() + PATIENCE
        while subject not in (await peer.ack("room.members", {"room": PLURAL}))["members"]:
            assert asyncio.get_running_loop().time() < deadline, "the room was not rejoined"
            await asyncio.sleep(0.05)


async def test_listen_says_when_the_connection_is_lost_and_when_it_is_back(
    tmp_path: Path,
) -> None:
    port, database = free_port(), tmp_path / "db.sqlite3"
    with running(tmp_path, database, PORT=str(port)) as first:
        url = first.ws_url
        async with listening(url, token=token_for("alice")) as listener:
            assert first.stop() == 0  # the service drains: it closes with 1001
            lost = await line(listener.stderr)
            with running(tmp_path, database, PORT=str(port)) as second:
                retries, back = await until_back(listener)
                if ROOMS:
                    await rejoined(second, expected_subject("alice"))
                async with httpx.AsyncClient(
                    base_url=second.base_url, headers=auth_headers("bob"), timeout=WAIT
                ) as http:
                    created = await http.post(COLLECTION, json=valid_data())
                printed = await line(listener.stdout)
                listener.send_signal(signal.SIGINT)
                status = await asyncio.wait_for(listener.wait(), PATIENCE)
                assert listener.stderr is not None
                complaints = (await listener.stderr.read()).decode()

    assert re.fullmatch(rf"connection lost \(code 1001\){AGAIN}", lost)
    for retry in retries:  # while the service was down, if it was tried then
        assert re.fullmatch(rf"cannot reach {re.escape(url)} \(.+\){AGAIN}", retry)
    assert back == f"reconnected to {url}\n"
    assert created.status_code == 201, created.text
    event = json.loads(printed)  # stdout is still one JSON event per line
    assert event["type"] == f"{ENTITY}.created"
    assert event["data"] == created.json()
    assert status == 130
    assert complaints == ""

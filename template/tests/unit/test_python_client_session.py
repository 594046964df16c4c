"""How the Python client's session ends, and how a caller learns why.

A command line must not wait for what cannot come: with `retry=False` a first connection that
fails raises at once, and a session that the service ends for good ends the events and every
request with the reason. The service is a hand-written stand-in on a loopback socket.
"""

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from http import HTTPStatus
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from tests.samples import RealtimeClient, RequestError

WAIT = 10.0  # seconds any one step may take on a loaded machine
TOO_BUSY = {"error": {"code": "rate_limited", "message": "too busy; retry later"}}


class NoSleep:
    """Stands in for asyncio.sleep: a client that asks for a wait is retrying, which these
    tests forbid; the delays asked for are kept for the assertion."""

    def __init__(self) -> None:
        self.asked: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.asked.append(delay)
        await asyncio.Event().wait()  # never returns: no second attempt can happen


@contextmanager
def closed_port() -> Iterator[socket.socket]:
    """A loopback socket that is bound but not listening: connecting to it is refused."""
    with socket.socket() as reserved:
        reserved.bind(("127.0.0.1", 0))
        yield reserved


def url_of(reserved: socket.socket) -> str:
    return f"ws://127.0.0.1:{reserved.getsockname()[1]}/ws"


def too_busy(_connection: ServerConnection, _request: Request) -> Response:
    """The service's refusal when it is full: HTTP 503 with its JSON error body."""
    body = json.dumps(TOO_BUSY).encode()
    headers = Headers({"Content-Type": "application/json", "Content-Length": str(len(body))})
    return Response(HTTPStatus.SERVICE_UNAVAILABLE, "Service Unavailable", headers, body)


async def close_with_1008(connection: ServerConnection) -> None:
    """The service once the caller's credentials expire."""
    await connection.close(1008, "credentials expired")


async def stay_open(connection: ServerConnection) -> None:
    await connection.wait_closed()


Handler = Callable[[ServerConnection], Awaitable[None]]
Refuse = Callable[[ServerConnection, Request], Response]


@asynccontextmanager
async def service(
    reserved: socket.socket, handler: Handler = stay_open, refuse: Refuse | None = None
) -> AsyncIterator[None]:
    """The stand-in on `reserved`: `handler` serves each connection, `refuse` answers each
    handshake instead of accepting it."""
    realtime = [Subprotocol("realtime.v1")]
    async with serve(handler, sock=reserved, subprotocols=realtime, process_request=refuse):
        yield


async def every_event(client: RealtimeClient) -> list[dict[str, Any]]:
    """The client's events until they end."""
    return [event async for event in client.events()]


async def test_without_retry_a_service_that_is_down_raises_at_once() -> None:
    sleep = NoSleep()
    with closed_port() as reserved:
        client = RealtimeClient(url_of(reserved), sleep=sleep)
        try:
            with pytest.raises(ConnectionRefusedError):
                await client.start(WAIT, retry=False)
        finally:
            await client.close()

    assert sleep.asked == []
    assert client.connects == 0


async def test_without_retry_a_refused_handshake_raises_the_services_reason() -> None:
    sleep = NoSleep()
    with closed_port() as reserved:
        async with service(reserved, refuse=too_busy):
            client = RealtimeClient(url_of(reserved), sleep=sleep)
            try:
                with pytest.raises(RequestError) as refused:
                    await client.start(WAIT, retry=False)
            finally:
                await client.close()

    assert refused.value.code == "refused"
    assert refused.value.message == "HTTP 503: too busy; retry later"
    assert sleep.asked == []  # a 503 is retried, but not when the caller said so


async def test_a_close_that_reconnecting_cannot_mend_ends_the_events_with_the_reason() -> None:
    sleep = NoSleep()
    with closed_port() as reserved:
        async with service(reserved, handler=close_with_1008):
            client = RealtimeClient(url_of(reserved), sleep=sleep)
            await client.start(WAIT)
            try:
                with pytest.raises(RequestError) as ended:
                    await asyncio.wait_for(every_event(client), WAIT)
                with pytest.raises(RequestError) as afterwards:
                    await client.request("ping", within=WAIT)
            finally:
                await client.close()

    assert ended.value.code == "closed"
    assert ended.value.message == "the service closed with 1008: credentials expired"
    assert afterwards.value is ended.value  # at once, not after `within`
    assert sleep.asked == []


async def test_the_events_stop_when_the_client_is_closed() -> None:
    with closed_port() as reserved:
        async with service(reserved):
            client = RealtimeClient(url_of(reserved))
            await client.start(WAIT)
            reading = asyncio.create_task(every_event(client))
            await client.close()
            received = await asyncio.wait_for(reading, WAIT)

    assert received == []
    assert client.ended is None  # closed by its user: nothing went wrong

"""The socket the service listens on, as asyncio (and so uvicorn) serves it."""

import asyncio
import socket

from tests.unit.service_classes import listen


class Accepted(asyncio.Protocol):
    def __init__(self, transports: asyncio.Queue[asyncio.BaseTransport]) -> None:
        self._transports = transports

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transports.put_nowait(transport)


async def test_accepted_connections_send_without_waiting_for_acks() -> None:
    """Nagle's algorithm off: a response written in two parts (headers, then body) must not
    wait for the client's delayed ACK, which cost every HTTP request about 40 ms."""
    listener = listen("127.0.0.1", 0)
    transports: asyncio.Queue[asyncio.BaseTransport] = asyncio.Queue()
    server = await asyncio.get_running_loop().create_server(
        lambda: Accepted(transports), sock=listener
    )
    async with server:
        _, writer = await asyncio.open_connection(*listener.getsockname())
        accepted = await asyncio.wait_for(transports.get(), 5)
        nagle_off = accepted.get_extra_info("socket").getsockopt(
            socket.IPPROTO_TCP, socket.TCP_NODELAY
        )
        writer.close()
        accepted.close()

    assert nagle_off

"""Uvicorn, tuned for WebSockets: the one module that relies on uvicorn's internals.

The protocol subclasses uvicorn's websockets-sansio protocol and uses attributes that are not
public API (`read_paused`, `queue`, `transport`, `writable`, `close_sent`, `handshake_complete`,
`conn`, `scope`); the server overrides uvicorn.Server's `startup` and `shutdown`.
tests/unit/test_uvicorn_tuning.py fails, naming what is missing, the day an upgrade of uvicorn
changes them; uv.lock pins the version this was written against.
"""

import asyncio
import math
import socket
import time
from collections.abc import Callable

import uvicorn
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request

from .delivery.websocket import prepared
from .delivery.websocket.drain import Drain

READ_AHEAD = 2  # messages a connection may have waiting for the app before reading pauses
# Bytes the kernel may hold for a peer that does not read (Linux doubles it for bookkeeping).
# Left alone, it grows to 4 MB per socket on loopback before a stalled peer is noticed.
SEND_BUFFER = 256 * 1024


class WebSocketProtocol(WebSocketsSansIOProtocol):
    """Uvicorn's websockets-sansio protocol, offering prepared frames and reading ahead."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        # A compressed connection needs each frame deflated with its own context.
        if not self.close_sent and not self.conn.extensions:
            self.scope["extensions"][prepared.EXTENSION] = {"write": self.write_prepared}

    def write_prepared(self, frame: bytes) -> bool:
        """Write a finished frame now; False when the peer pushes back or is closing, so the
        caller takes the ASGI path, which waits for the transport or reports the peer gone."""
        if (
            self.close_sent
            or not self.handshake_complete
            or not self.writable.is_set()
            or self.transport.is_closing()
        ):
            return False
        self.transport.write(frame)
        return True

    def send_receive_event_to_app(self) -> None:
        # Uvicorn pauses reading after each message until the app has taken it: two system
        # calls per message. Told reading is paused already, the base class only queues the
        # message; reading pauses here once READ_AHEAD messages wait, and never after the
        # close frame went out (the peer's answer to it must still be read).
        paused = self.read_paused
        self.read_paused = True
        super().send_receive_event_to_app()
        self.read_paused = paused
        if not paused and not self.close_sent and self.queue.qsize() >= READ_AHEAD:
            self.read_paused = True
            self.transport.pause_reading()


class Server(uvicorn.Server):
    """Uvicorn closes WebSockets with 1012 on shutdown; the protocol promises 1001."""

    def __init__(
        self,
        config: uvicorn.Config,
        drain: Drain,
        drain_timeout: float,
        on_ready: Callable[[], None],
    ) -> None:
        super().__init__(config)
        self._drain = drain
        self._drain_timeout = drain_timeout
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._on_ready()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        started = time.monotonic()
        await self._drain.run(self._drain_timeout)
        # Uvicorn's own grace period (for HTTP requests) gets what the drain left of the budget.
        left = self._drain_timeout - (time.monotonic() - started)
        self.config.timeout_graceful_shutdown = max(1, math.ceil(left))
        await super().shutdown(sockets)

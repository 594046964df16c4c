"""Uvicorn, tuned for WebSockets, with a shutdown that closes connections with 1001 first."""

import asyncio
import errno
import math
import signal
import socket
import sys
import time
from collections.abc import Callable
from functools import partial
from types import FrameType

import uvicorn
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request

from . import logs, welcome
from .app import create_app
from .backplane import redis
from .backplane.opening import BackplaneUnavailableError
from .delivery.websocket import prepared
from .delivery.websocket.hub import Hub
from .repository.opening import DatabaseUnavailableError
from .settings import Settings

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


class StartupError(Exception):
    """The service cannot start; the message names the setting to change and how."""


class Server(uvicorn.Server):
    """Uvicorn closes WebSockets with 1012 on shutdown; the protocol promises 1001."""

    def __init__(
        self,
        config: uvicorn.Config,
        hub: Hub,
        drain_timeout: float,
        on_ready: Callable[[], None],
    ) -> None:
        super().__init__(config)
        self._hub = hub
        self._drain_timeout = drain_timeout
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._on_ready()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        started = time.monotonic()
        await self._hub.drain(self._drain_timeout)
        # Uvicorn's own grace period (for HTTP requests) gets what the drain left of the budget.
        left = self._drain_timeout - (time.monotonic() - started)
        self.config.timeout_graceful_shutdown = max(1, math.ceil(left))
        await super().shutdown(sockets)


def serve(settings: Settings) -> None:
    """Open the database, reach the backplane, take the port, then serve until SIGTERM or SIGINT.

    Whatever can stop the start-up is tried here, in this order, before a connection is
    accepted; each failure is a StartupError that says which setting to change.
    """
    logs.configure(settings.log_level, settings.log_format)
    try:
        app = create_app(settings)
        app.state.database.open()
        if settings.backplane_url:
            redis.check(settings.backplane_url)
    except (DatabaseUnavailableError, BackplaneUnavailableError) as error:
        raise StartupError(str(error)) from error
    listener = listen(settings.host, settings.port)
    port = listener.getsockname()[1]  # PORT=0 takes any free port
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=port,
        ws=WebSocketProtocol,
        ws_max_size=settings.max_message_bytes,
        ws_per_message_deflate=settings.ws_compression,
        ws_ping_interval=None,  # the heartbeat is the protocol's own ping/pong
        timeout_graceful_shutdown=math.ceil(settings.shutdown_timeout) or None,
        log_level=settings.log_level,
        log_config=None,  # uvicorn's loggers go through ours (logs.py)
        lifespan="on",
    )
    # Uvicorn re-raises SIGTERM or SIGINT once it has shut down gracefully, which would end
    # the process by that signal; everything has drained by then, so exit with 0 instead.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    signal.signal(signal.SIGINT, _exit_cleanly)
    ready = partial(welcome.announce, settings.host, port, settings.log_format)
    Server(config, app.state.hub, settings.shutdown_timeout, ready).run([listener])


def listen(host: str, port: int) -> socket.socket:
    """The bound socket uvicorn serves on: bound here, a taken port is a message, not a log
    line from deep inside uvicorn. Connections are accepted only once uvicorn serves."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        raise StartupError(_cannot_listen(host, port, error)) from error
    return listener


def _cannot_listen(host: str, port: int, error: OSError) -> str:
    where = f"cannot listen on {host}:{port}"
    if error.errno == errno.EADDRINUSE:
        return f"{where}, address already in use.\nStop what uses it or set PORT={port + 1}."
    if error.errno == errno.EACCES:
        return f"{where}: permission denied.\nPorts below 1024 need privileges: set PORT=8000."
    if error.errno == errno.EADDRNOTAVAIL or isinstance(error, socket.gaierror):
        return (
            f"{where}: HOST {host} is not an address of this machine.\n"
            "Set HOST=127.0.0.1 (this machine only) or HOST=0.0.0.0 (every network interface)."
        )
    return f"{where}: {error.strerror or error}.\nCheck HOST and PORT."


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    sys.exit(0)

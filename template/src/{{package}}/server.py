"""Start-up checks, then uvicorn (tuned in uvicorn_tuning.py) until SIGTERM or SIGINT."""

import errno
import math
import signal
import socket
import sys
from functools import partial
from types import FrameType

import uvicorn

from . import logs, schema, welcome
from .app import create_app
from .backplane import redis
from .backplane.opening import BackplaneUnavailableError
from .repository.opening import DatabaseUnavailableError
from .settings import Settings
from .uvicorn_tuning import Server, WebSocketProtocol


class StartupError(Exception):
    """The service cannot start; the message names the setting to change and how."""


def serve(settings: Settings) -> None:
    """Open the database, reach the backplane, take the port, then serve until SIGTERM or SIGINT.

    Whatever can stop the start-up is tried here, in this order, before a connection is
    accepted; each failure is a StartupError that says which setting to change.
    """
    logs.configure(settings.log_level, settings.log_format)
    try:
        app = create_app(settings)
        app.state.database.open(partial(schema.prepare, auto_migrate=settings.auto_migrate))
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
    Server(config, app.state.drain, settings.shutdown_timeout, ready).run([listener])


def listen(host: str, port: int) -> socket.socket:
    """The bound socket uvicorn serves on: bound here, a taken port is a message, not a log
    line from deep inside uvicorn. Connections are accepted only once uvicorn serves."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # Named TCP, so that asyncio turns Nagle's algorithm off on each accepted connection (it
    # checks the protocol number): otherwise a response written in two parts waits for the
    # peer's delayed ACK, about 40 ms.
    listener = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
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

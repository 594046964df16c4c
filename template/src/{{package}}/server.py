"""Uvicorn, tuned for WebSockets, with a shutdown that closes connections with 1001 first."""

import math
import signal
import socket
import sys
import time
from types import FrameType

import uvicorn

from . import logs
from .app import create_app
from .delivery.websocket.hub import Hub
from .delivery.websocket.prepared import PreparedFrameProtocol
from .settings import Settings


class Server(uvicorn.Server):
    """Uvicorn closes WebSockets with 1012 on shutdown; the protocol promises 1001."""

    def __init__(self, config: uvicorn.Config, hub: Hub, drain_timeout: float) -> None:
        super().__init__(config)
        self._hub = hub
        self._drain_timeout = drain_timeout

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        started = time.monotonic()
        await self._hub.drain(self._drain_timeout)
        # Uvicorn's own grace period (for HTTP requests) gets what the drain left of the budget.
        left = self._drain_timeout - (time.monotonic() - started)
        self.config.timeout_graceful_shutdown = max(1, math.ceil(left))
        await super().shutdown(sockets)


def serve(settings: Settings) -> None:
    logs.configure(settings.log_level, settings.log_format)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        ws=PreparedFrameProtocol,
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
    Server(config, app.state.hub, settings.shutdown_timeout).run()


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    sys.exit(0)

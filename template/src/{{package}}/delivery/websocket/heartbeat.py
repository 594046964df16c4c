"""The heartbeat: ping connections that fell silent, and close those that stay silent.

One task sweeps every connection; no connection has a timer or task of its own.
"""

import asyncio
import itertools
import logging
import time

from .client import Clock
from .hub import Hub
from .prepared import text_frame
from .protocol import CloseCode, encode

log = logging.getLogger(__name__)


class Heartbeat:
    def __init__(
        self, hub: Hub, interval: float, timeout: float, clock: Clock = time.monotonic
    ) -> None:
        """`clock` must be the one the hub's clients stamp `last_seen` with."""
        self._hub = hub
        self._interval = interval
        self._timeout = timeout
        self._clock = clock
        self._rounds = itertools.count(1)

    async def run(self) -> None:
        """Sweep until cancelled, often enough to act within a few percent of the interval."""
        period = max(0.05, min(self._interval, self._timeout) / 10)
        while True:
            await asyncio.sleep(period)
            self.sweep(self._clock())

    def sweep(self, now: float) -> None:
        # One frame, serialized and framed once, for every silent connection.
        ping: str | None = None
        prepared: bytes | None = None
        for client in self._hub:
            if client.pinged_at is not None:
                if now - client.pinged_at >= self._timeout:
                    log.info(
                        "heartbeat timeout",
                        extra={"event": "heartbeat_timeout", "subject": client.subject},
                    )
                    self._hub.stats.heartbeat_timeouts += 1
                    client.close_soon(CloseCode.HEARTBEAT_TIMEOUT, "no answer to ping")
                    self._hub.unregister(client)
            elif now - client.last_seen >= self._interval:
                if ping is None:
                    ping = encode("ping", f"hb-{next(self._rounds)}", {})
                    prepared = text_frame(ping.encode())
                client.pinged_at = now
                client.deliver(ping, prepared)

"""Shutting down without cutting anyone off mid-request.

The drain refuses newcomers first (`/ready` says 503 so that a balancer stops sending any),
lets the requests already read finish, so that their replies go out, and only then closes
every connection with 1001, in batches, so that their reconnects spread out instead of
stampeding onto the other instances.
"""

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from .hub import Hub
from .protocol import CloseCode

log = logging.getLogger(__name__)

DRAIN_BATCH = 500  # connections closed at once
DRAIN_PAUSE = 0.1  # seconds between batches


class Drain:
    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self._requests = 0
        self._no_requests = asyncio.Event()
        self._no_requests.set()
        self.draining = False

    @contextmanager
    def request(self) -> Iterator[None]:
        """Count a request as running until the block ends."""
        self._requests += 1
        self._no_requests.clear()
        try:
            yield
        finally:
            self._requests -= 1
            if not self._requests:
                self._no_requests.set()

    async def run(self, within: float) -> None:
        """Drain every connection within `within` seconds, or give up on the rest."""
        self.draining = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        try:
            await asyncio.wait_for(self._no_requests.wait(), within)
        except TimeoutError:
            log.warning("drain: %d requests still running", self._requests)
        clients = list(self._hub)
        log.info("draining %d connections", len(clients), extra={"event": "drain"})
        for start in range(0, len(clients), DRAIN_BATCH):
            if start:
                await asyncio.sleep(DRAIN_PAUSE)
            for client in clients[start : start + DRAIN_BATCH]:
                client.close_soon(CloseCode.GOING_AWAY, "server shutting down")
        try:
            # A close frame waits behind whatever a stalled peer has not read yet: bound it.
            await asyncio.wait_for(self._hub.emptied(), max(0.0, deadline - loop.time()))
        except TimeoutError:
            log.warning("%d connections still open after %.0f s", len(self._hub), within)

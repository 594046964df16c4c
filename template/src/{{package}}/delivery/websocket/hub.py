"""The hub: every open connection, broadcasting to them, and draining them at shutdown."""

import asyncio
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .client import Client, deliver_to_all
from .protocol import CloseCode

log = logging.getLogger(__name__)

DRAIN_BATCH = 500  # connections closed at once when draining
DRAIN_PAUSE = 0.1  # seconds between batches: reconnects spread out instead of stampeding


@dataclass(slots=True)
class HubStats:
    """Counters since start-up, for logs and /metrics."""

    connects: int = 0
    disconnects: int = 0
    evictions: int = 0
    refusals: int = 0
    rate_limited: int = 0
    heartbeat_timeouts: int = 0


class Hub:
    """Registers clients and fans frames out to them, never waiting on any one of them."""

    def __init__(self) -> None:
        self._clients: set[Client] = set()
        self._on_unregister: list[Callable[[Client], None]] = []
        self._idle = asyncio.Event()
        self._idle.set()
        self._requests = 0
        self._no_requests = asyncio.Event()
        self._no_requests.set()
        self.draining = False
        self.stats = HubStats()

    def __len__(self) -> int:
        return len(self._clients)

    def __iter__(self) -> Iterator[Client]:
        """A snapshot: safe while clients come and go."""
        return iter(list(self._clients))

    def register(self, client: Client) -> None:
        self._clients.add(client)
        self._idle.clear()
        self.stats.connects += 1

    def on_unregister(self, listener: Callable[[Client], None]) -> None:
        """Call `listener` with each client that leaves, however it leaves."""
        self._on_unregister.append(listener)

    def unregister(self, client: Client) -> None:
        if client not in self._clients:
            return
        self._clients.discard(client)
        self.stats.disconnects += 1
        for listener in self._on_unregister:
            listener(client)
        if not self._clients:
            self._idle.set()

    def evict(self, client: Client) -> None:
        self.stats.evictions += 1
        self.unregister(client)

    def broadcast(self, frame: str) -> None:
        """Deliver one already-serialized frame to every open connection."""
        deliver_to_all(self._clients, frame)

    def request_started(self) -> None:
        self._requests += 1
        self._no_requests.clear()

    def request_finished(self) -> None:
        self._requests -= 1
        if not self._requests:
            self._no_requests.set()

    async def drain(self, within: float) -> None:
        """Refuse newcomers, let requests in flight finish, then close everyone with 1001 in
        batches, and wait for them to go; all within `within` seconds."""
        self.draining = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        try:
            await asyncio.wait_for(self._no_requests.wait(), within)
        except TimeoutError:
            log.warning("drain: %d requests still running", self._requests)
        clients = list(self._clients)
        log.info("draining %d connections", len(clients), extra={"event": "drain"})
        for start in range(0, len(clients), DRAIN_BATCH):
            if start:
                await asyncio.sleep(DRAIN_PAUSE)
            for client in clients[start : start + DRAIN_BATCH]:
                client.close_soon(CloseCode.GOING_AWAY, "server shutting down")
        try:
            # A close frame waits behind whatever a stalled peer has not read yet: bound it.
            await asyncio.wait_for(self._idle.wait(), max(0.0, deadline - loop.time()))
        except TimeoutError:
            log.warning("%d connections still open after %.0f s", len(self._clients), within)

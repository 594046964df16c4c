"""The hub: every open connection, and broadcasting to them."""

import asyncio
import logging
from collections.abc import Callable

from .client import Client
from .protocol import CloseCode

log = logging.getLogger(__name__)


class Hub:
    """Registers clients and fans frames out to them, never waiting on any one of them."""

    def __init__(self) -> None:
        self._clients: set[Client] = set()
        self._on_unregister: list[Callable[[Client], None]] = []
        self._idle = asyncio.Event()
        self._idle.set()
        self.draining = False

    def __len__(self) -> int:
        return len(self._clients)

    def register(self, client: Client) -> None:
        self._clients.add(client)
        self._idle.clear()

    def on_unregister(self, listener: Callable[[Client], None]) -> None:
        """Call `listener` with each client that leaves, however it leaves."""
        self._on_unregister.append(listener)

    def unregister(self, client: Client) -> None:
        if client not in self._clients:
            return
        self._clients.discard(client)
        for listener in self._on_unregister:
            listener(client)
        if not self._clients:
            self._idle.set()

    def broadcast(self, frame: str) -> None:
        """Deliver one already-serialized frame to every open connection."""
        for client in list(self._clients):
            client.deliver(frame)

    async def drain(self, within: float) -> None:
        """Refuse newcomers, close everyone with 1001, and wait for them to go."""
        self.draining = True
        clients = list(self._clients)
        log.info("draining %d connections", len(clients))

        async def close_all() -> None:
            # A close frame waits behind whatever a stalled peer has not read yet: bound it too.
            await asyncio.gather(
                *(client.close(CloseCode.GOING_AWAY, "server shutting down") for client in clients)
            )
            await self._idle.wait()

        try:
            await asyncio.wait_for(close_all(), within)
        except TimeoutError:
            log.warning("%d connections still open after %.0f s", len(self._clients), within)

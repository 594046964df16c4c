"""The hub: every open connection, and nothing else.

Reading frames is the endpoint's work, writing them the client's, fanning them out
`deliver_to_all`'s; the hub only knows who is connected, so that the heartbeat, the
broadcasts and the drain can find them.
"""

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .client import Client


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
    def __init__(self) -> None:
        self._clients: set[Client] = set()
        self._on_unregister: list[Callable[[Client], None]] = []
        self._empty = asyncio.Event()
        self._empty.set()
        self.stats = HubStats()

    def __len__(self) -> int:
        return len(self._clients)

    def __iter__(self) -> Iterator[Client]:
        """A snapshot: safe while clients come and go."""
        return iter(list(self._clients))

    def register(self, client: Client) -> None:
        self._clients.add(client)
        self._empty.clear()
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
            self._empty.set()

    def evict(self, client: Client) -> None:
        self.stats.evictions += 1
        self.unregister(client)

    async def emptied(self) -> None:
        """Return once no connection is left."""
        await self._empty.wait()

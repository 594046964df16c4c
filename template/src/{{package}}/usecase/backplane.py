"""The backplane port: how a message for a channel reaches the other instances of the service.

Each instance delivers its own messages to its own connections at once; the backplane only
carries them to the others. With one instance there is nobody to carry them to.
"""

from abc import ABC, abstractmethod
from collections.abc import Callable

Receive = Callable[[str], None]


class Backplane(ABC):
    """Channels that every instance can publish to and subscribe to."""

    @abstractmethod
    async def subscribe(self, channel: str, receive: Receive) -> None:
        """Call `receive` with each message another instance publishes to `channel`.

        Returns once messages published from now on will arrive (or, while the backplane is
        unreachable, at once: it subscribes again when it is back).
        """

    @abstractmethod
    def unsubscribe(self, channel: str) -> None:
        """Stop receiving `channel`; done in the background, in order with subscribe."""

    @abstractmethod
    async def publish(self, channel: str, message: str) -> None:
        """Hand `message` to the other instances subscribed to `channel`, in call order."""

    @property
    def problem(self) -> str | None:
        """Why other instances cannot be reached right now, or None when they can."""
        return None

    @abstractmethod
    async def start(self) -> None:
        """Begin carrying messages (at start-up)."""

    @abstractmethod
    async def stop(self) -> None:
        """Stop carrying messages, saying goodbye to the other instances (at shutdown)."""

"""What the use cases announce after a change succeeds, and the port they announce it through."""

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Event:
    """A change, named like `user.created`, with JSON-ready data."""

    type: str
    data: dict[str, Any]


class EventPublisher(ABC):
    """Announces changes to whoever listens (WebSocket clients, by default)."""

    @abstractmethod
    async def publish(self, event: Event) -> None: ...

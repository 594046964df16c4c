"""The event port's WebSocket adapter: every change goes out to the open connections."""

import uuid

from ...usecase.events import Event, EventPublisher
from .hub import Hub
from .protocol import encode


class HubEventPublisher(EventPublisher):
    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    async def publish(self, event: Event) -> None:
        self._hub.broadcast(encode(event.type, f"evt-{uuid.uuid4().hex}", event.data))

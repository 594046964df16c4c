"""A Python client for the service's WebSocket API: requests by id, events, rooms, and a
session that survives reconnections. See docs/websocket.md for an example."""

from .backoff import Backoff
from .connection import RealtimeClient, RequestError

__all__ = ["Backoff", "RealtimeClient", "RequestError"]

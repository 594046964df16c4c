"""A Python client for the service's WebSocket API: requests by id, events, rooms, and a
session that survives reconnections. See docs/websocket.md for an example."""

from .connection import RealtimeClient, RequestError

__all__ = ["RealtimeClient", "RequestError"]

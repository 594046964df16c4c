"""Adapters that let the outside world reach the use cases: HTTP and WebSocket."""

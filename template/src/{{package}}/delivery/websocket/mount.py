"""`/ws` served ahead of Starlette's routing and middleware."""

from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket


class WebSocketMount:
    """An ASGI middleware that hands WebSocket handshakes for `path` to `endpoint`.

    An open connection keeps a suspended coroutine for every layer between the server and
    its read loop. The layers skipped here (CORS, error pages, routing) do nothing for a
    WebSocket, yet cost about 4.5 KiB per connection, a fifth of the total.
    """

    def __init__(
        self, app: ASGIApp, path: str, endpoint: Callable[[WebSocket], Awaitable[None]]
    ) -> None:
        self._app = app
        self._path = path
        self._endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == self._path:
            await self._endpoint(WebSocket(scope, receive, send))
        else:
            await self._app(scope, receive, send)

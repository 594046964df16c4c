"""The client: one logical session over as many WebSocket connections as the network needs."""

import asyncio
import contextlib
import json
import logging
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidMessage, InvalidStatus

from .backoff import Backoff, Jitter

log = logging.getLogger(__name__)

Frame = dict[str, Any]
TokenSource = str | Callable[[], Awaitable[str]] | None
Sleep = Callable[[float], Awaitable[None]]

SUBPROTOCOL = "realtime.v1"
# Close codes after which reconnecting cannot help (docs/websocket.md, "Close codes").
FINAL_CLOSE_CODES = frozenset({1000, 1003, 1008, 1009})
# Handshake refusals after which reconnecting cannot help.
FINAL_STATUSES = frozenset({401, 403})


class RequestError(Exception):
    """The service answered a request with an `error` reply, or the session ended first."""

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details


def refusal(refused: InvalidStatus) -> RequestError:
    """A refused handshake as an error that says why, in the service's words: the message of
    the JSON error body that every refusal carries (see docs/websocket.md, "Connecting")."""
    response = refused.response
    try:
        reason = str(json.loads(response.body)["error"]["message"])
    except (ValueError, KeyError, TypeError):  # not the service, or not its JSON error shape
        reason = response.reason_phrase
    return RequestError("refused", f"HTTP {response.status_code}: {reason}")


class RealtimeClient:
    """Keeps a session alive: reconnects with exponential backoff and full jitter, signs in
    again, rejoins its rooms and re-sends unacknowledged requests with their original ids (the
    service replays its first reply to a re-sent id, so nothing runs twice).

    `jitter` (a uniform draw from [0, 1)) and `sleep` are how the waits between attempts are
    made; tests pass their own to see and steer those waits without waiting.

    Each change of the connection is logged at INFO ("connected to …", "connection lost (code
    1001), reconnecting in 1.2 s", "reconnected to …"): an application that shows them
    configures the `logging` of this package; the command line prints them on stderr.
    """

    def __init__(
        self,
        url: str,
        token: TokenSource = None,
        *,
        heartbeat_window: float = 35.0,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        jitter: Jitter = random.random,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.url = url
        self._token = token
        self._silence_limit = heartbeat_window  # HEARTBEAT_INTERVAL + HEARTBEAT_TIMEOUT
        self.backoff = Backoff(backoff_base, backoff_max, jitter)
        self._sleep = sleep
        self._rooms: set[str] = set()
        self._pending: dict[str, tuple[Frame, asyncio.Future[Frame]]] = {}
        self._events: asyncio.Queue[Frame | None] = asyncio.Queue()  # None: the session ended
        self._connection: ClientConnection | None = None
        self._connected = asyncio.Event()
        self._supervisor: asyncio.Task[None] | None = None
        self._closed = False
        self.connects = 0  # how many times a connection was opened
        # Why the session ended by itself (a refusal, a close that reconnecting cannot mend).
        self.ended: RequestError | None = None

    async def __aenter__(self) -> "RealtimeClient":
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def start(self, within: float = 10.0, *, retry: bool = True) -> None:
        """Connect, and keep reconnecting in the background until `close`.

        `retry=False` makes the first attempt the only one, for a caller that would rather
        say at once what is wrong: a service that is down raises OSError, a refused handshake
        RequestError (code `refused`). Once connected, every later attempt is retried.
        """
        self._supervisor = asyncio.create_task(self._run(retry))
        waiter = asyncio.create_task(self._connected.wait())
        done, _ = await asyncio.wait(
            {waiter, self._supervisor}, timeout=within, return_when=asyncio.FIRST_COMPLETED
        )
        waiter.cancel()
        if self._supervisor in done:
            self._supervisor.result()  # raises why the session ended
        if not done:
            raise TimeoutError(f"could not connect to {self.url} within {within} s")

    async def close(self) -> None:
        self._closed = True
        if self._connection is not None:
            await self._connection.close()
        if self._supervisor is not None:
            self._supervisor.cancel()
            await asyncio.wait({self._supervisor})
            if not self._supervisor.cancelled():
                self._supervisor.exception()  # why it ended was told by `start` or `ended`
        self._fail_pending(RequestError("closed", "the client was closed"))

    async def request(
        self, type: str, data: Frame | None = None, *, id: str | None = None, within: float = 30
    ) -> Frame:
        """Send a request and return its `ack` data; raises RequestError for an `error` reply.

        The request survives reconnections: it is re-sent, with the same id, until answered.
        """
        if self.ended is not None:
            raise self.ended
        frame: Frame = {"type": type, "id": id or str(uuid.uuid4()), "data": data or {}}
        future: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._pending[frame["id"]] = (frame, future)
        if self._connection is not None and self._connected.is_set():
            await self._send(self._connection, frame)
        try:
            reply = await asyncio.wait_for(asyncio.shield(future), within)
        finally:
            self._pending.pop(frame["id"], None)
        if reply["type"] == "error":
            error = reply.get("data", {})
            details = error.get("details")
            raise RequestError(error.get("code", ""), error.get("message", ""), details)
        result: Frame = reply.get("data", {})
        return result

    async def join(self, room: str, *, within: float = 30) -> Frame:
        """Join `room`, now and after every reconnection."""
        reply = await self.request("room.join", {"room": room}, within=within)
        self._rooms.add(room)
        return reply

    async def leave(self, room: str) -> Frame:
        self._rooms.discard(room)
        return await self.request("room.leave", {"room": room})

    async def events(self) -> AsyncIterator[Frame]:
        """Every frame that is not a reply (entity events, room messages) until the session
        ends: after `close` the iteration stops, and it raises `ended` when the session
        ended by itself."""
        while (frame := await self._next_event(None)) is not None:
            yield frame

    async def next_event(self, within: float = 10) -> Frame:
        frame = await self._next_event(within)
        if frame is None:
            raise RequestError("closed", "the client was closed")
        return frame

    async def _next_event(self, within: float | None) -> Frame | None:
        """The next event, or None once the session is over (or `ended`, raised)."""
        frame = await asyncio.wait_for(self._events.get(), within)
        if frame is None:
            self._events.put_nowait(None)  # the next reader learns it too
            if self.ended is not None:
                raise self.ended
        return frame

    async def _run(self, retry_first: bool) -> None:
        try:
            await self._keep_connected(retry_first)
        finally:
            self._events.put_nowait(None)

    async def _keep_connected(self, retry_first: bool) -> None:
        while not self._closed:
            try:
                connection = await connect(
                    self.url,
                    subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
                    additional_headers=await self._headers(),
                    open_timeout=10,
                    compression=None,
                )
            except InvalidStatus as refused:
                status = refused.response.status_code
                if status in FINAL_STATUSES or not (retry_first or self.connects):
                    self.ended = refusal(refused)
                    self._fail_pending(self.ended)
                    raise self.ended from refused
                why = f"the handshake was refused ({refusal(refused).message})"
            except (OSError, InvalidMessage) as unreachable:  # OSError includes TimeoutError
                if not (retry_first or self.connects):
                    raise
                why = f"cannot reach {self.url} ({unreachable})"
            else:
                self.backoff.reset()
                code = await self._serve(connection)
                if self._closed:
                    return
                if code in FINAL_CLOSE_CODES:
                    said = f": {connection.close_reason}" if connection.close_reason else ""
                    self.ended = RequestError("closed", f"the service closed with {code}{said}")
                    self._fail_pending(self.ended)
                    return
                why = f"connection lost (code {code})"
            delay = self.backoff.next_delay()
            log.info("%s, reconnecting in %.1f s", why, delay)
            await self._sleep(delay)

    async def _serve(self, connection: ClientConnection) -> int | None:
        """Resume the session on a new connection and read until it ends; the close code."""
        self._connection = connection
        self.connects += 1
        reader = asyncio.create_task(self._read(connection))
        try:
            for room in sorted(self._rooms):
                rejoin = {"type": "room.join", "id": str(uuid.uuid4()), "data": {"room": room}}
                await self._send(connection, rejoin)
            # From here `request` sends by itself; sending one twice is harmless (the service
            # replays its first reply), missing one is not.
            self._connected.set()
            for frame, _ in list(self._pending.values()):
                await self._send(connection, frame)
            log.info("%s to %s", "reconnected" if self.connects > 1 else "connected", self.url)
            await reader
        except ConnectionClosed:
            pass
        finally:
            self._connected.clear()
            self._connection = None
            reader.cancel()
        return connection.close_code

    async def _read(self, connection: ClientConnection) -> None:
        while True:
            try:
                # Silence past the heartbeat window means a dead peer: drop and reconnect.
                text = await asyncio.wait_for(connection.recv(), self._silence_limit)
            except TimeoutError:
                log.info("no frame for %.0f s: the connection is dead", self._silence_limit)
                await connection.close(4000, "heartbeat timeout")
                return
            except ConnectionClosed:
                return
            frame = json.loads(text)
            kind, frame_id = frame.get("type"), frame.get("id")
            if kind == "ping":
                await self._send(connection, {"type": "pong", "id": frame_id, "data": {}})
            elif kind in ("ack", "error", "pong") and frame_id in self._pending:
                future = self._pending[frame_id][1]
                if not future.done():
                    future.set_result(frame)
            elif kind not in ("ack", "error", "pong"):
                self._events.put_nowait(frame)

    async def _send(self, connection: ClientConnection, frame: Frame) -> None:
        with contextlib.suppress(ConnectionClosed):  # the reconnection will re-send it
            await connection.send(json.dumps(frame))

    async def _headers(self) -> dict[str, str]:
        token = self._token
        if token is None:
            return {}
        value = token if isinstance(token, str) else await token()
        return {"Authorization": f"Bearer {value}"}

    def _fail_pending(self, error: RequestError) -> None:
        for _, future in self._pending.values():
            if not future.done():
                future.set_exception(error)
                future.exception()  # nobody may be waiting any more

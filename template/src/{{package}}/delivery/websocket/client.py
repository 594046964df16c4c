"""One connected WebSocket: its write pump, its rate limit, and when it was last heard."""

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine, Generator, Iterable
from dataclasses import dataclass
from typing import Any

from starlette.types import Message

from .prepared import WritePrepared, text_frame
from .protocol import CloseCode

Send = Callable[[Message], Coroutine[Any, Any, None]]
# Seconds on a clock that never goes back; the heartbeat and the rate limit read it. Unit
# tests pass one they move by hand, so that what they prove holds however loaded the machine.
Clock = Callable[[], float]
log = logging.getLogger(__name__)
CLOSE_TIMEOUT = 5.0  # seconds a close frame may take to get past a slow peer's backlog


@dataclass(frozen=True, slots=True)
class ClientLimits:
    """What one connection may cost; one instance is shared by every client."""

    queue_size: int  # frames waiting for a slow peer before it is evicted
    queue_bytes: int  # and their total size
    rate: float  # inbound frames per second, on average
    burst: int  # inbound frames at once


class Client:
    """One connection's sending side; the endpoint reads, the client writes.

    `deliver` writes straight to the socket while the peer keeps up (a prepared frame when
    the server offers it), so a broadcast to thousands wakes no task per recipient. Only
    when the transport pushes back does the client queue frames and start a write pump;
    when the queue fills, the client is evicted with 1013 so that a slow reader never
    delays the others.
    """

    __slots__ = (
        "_backlog",
        "_backlog_bytes",
        "_clock",
        "_closing",
        "_limits",
        "_on_evict",
        "_refilled_at",
        "_send",
        "_strikes",
        "_tokens",
        "_write",
        "_writer",
        "close_code",
        "closed",
        "last_seen",
        "pinged_at",
        "subject",
    )

    def __init__(
        self,
        send: Send,
        subject: str,
        limits: ClientLimits,
        on_evict: Callable[["Client"], None],
        write: WritePrepared | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self._send = send
        self._clock = clock
        self._write = write
        self.subject = subject
        self._limits = limits
        self._on_evict = on_evict
        self._backlog: deque[str] | None = None
        self._backlog_bytes = 0
        self._writer: asyncio.Task[None] | None = None
        self._closing: asyncio.Task[None] | None = None
        self.closed = False
        self.close_code: int | None = None
        self.last_seen = clock()  # when the peer last sent anything
        self.pinged_at: float | None = None  # when the heartbeat pinged it, if unanswered
        self._tokens = float(limits.burst)
        self._refilled_at = self.last_seen
        self._strikes = 0

    def heard(self) -> None:
        """The peer sent something: it is alive, whatever the heartbeat asked."""
        self.last_seen = self._clock()
        self.pinged_at = None

    def disconnected(self, code: int | None) -> None:
        """The peer is gone; keep the code of a close this side started, if any."""
        self.closed = True
        self.close_code = self.close_code or code

    async def finish(self) -> None:
        """Stop, and let a close already started go out (for at most CLOSE_TIMEOUT).

        The close frame may wait behind a slow peer's backlog: ending the connection
        before it is sent would lose its code (1013, 1008) for a bare disconnect.
        """
        self.closed = True
        if self._closing is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._closing), CLOSE_TIMEOUT)

    def admit(self) -> bool:
        """Take a token from the connection's bucket; False when it is empty.

        A peer that keeps sending into an empty bucket is closed with 1008.
        """
        now = self._clock()
        limits = self._limits
        self._tokens = min(limits.burst, self._tokens + (now - self._refilled_at) * limits.rate)
        self._refilled_at = now
        if self._tokens >= 1:
            self._tokens -= 1
            self._strikes = 0
            return True
        self._strikes += 1
        if self._strikes > limits.burst:
            log.warning("closing %s: it keeps exceeding its rate limit", self.subject)
            self.close_soon(CloseCode.POLICY_VIOLATION, "rate limit exceeded again and again")
        return False

    def deliver(self, frame: str, prepared: bytes | None = None) -> None:
        """Send a frame without ever waiting for this peer; `prepared` is the same frame
        already serialized by `text_frame`, for broadcasts."""
        if self.closed:
            return
        if self._backlog is not None:
            self._backlog.append(frame)
            self._backlog_bytes += len(frame)
            limits = self._limits
            if len(self._backlog) > limits.queue_size or self._backlog_bytes > limits.queue_bytes:
                self.evict()
            return
        if self._write is not None and self._write(prepared or text_frame(frame.encode())):
            return
        pending = self._start(frame)
        if pending is not None:
            self._backlog = deque()
            self._backlog_bytes = 0
            self._writer = asyncio.get_running_loop().create_task(self._write_pump(pending))

    def evict(self) -> None:
        """Drop a peer that cannot keep up: close with 1013 once its socket drains."""
        if self.closed:
            return
        log.warning("evicting slow consumer %s", self.subject)
        self._on_evict(self)
        self.close_soon(CloseCode.TRY_AGAIN_LATER, "slow consumer")

    def close_soon(self, code: CloseCode, reason: str = "") -> None:
        """Stop sending and start the close handshake; safe from synchronous code."""
        if self._closing is not None:
            return
        self.closed = True
        self.close_code = code
        self._backlog = None
        if self._writer is not None:
            self._writer.cancel()
        message = {"type": "websocket.close", "code": code, "reason": reason}
        self._closing = asyncio.get_running_loop().create_task(self._quietly(message))

    async def close(self, code: CloseCode, reason: str = "") -> None:
        """Close (or join a close already under way) and wait until the frame is sent."""
        self.close_soon(code, reason)
        if self._closing is not None:
            await self._closing

    def _start(self, frame: str) -> Generator[Any, Any, None] | None:
        """Run the send until it first has to wait; None when it finished at once."""
        send = self._send({"type": "websocket.send", "text": frame})
        try:
            waiting_on = send.send(None)
        except StopIteration:
            return None
        except Exception:  # the peer is gone; the read loop will notice and clean up
            self.closed = True
            return None
        return _resume(send, waiting_on)

    async def _write_pump(self, pending: Generator[Any, Any, None]) -> None:
        try:
            await _Awaitable(pending)
            while self._backlog:
                frame = self._backlog.popleft()
                self._backlog_bytes -= len(frame)
                await self._send({"type": "websocket.send", "text": frame})
        except Exception:  # the peer is gone
            self.closed = True
        finally:
            self._backlog = None
            self._writer = None

    async def _quietly(self, message: Message) -> None:
        try:
            await self._send(message)
        except Exception:  # the peer is already gone
            log.debug("close not sent: peer gone")


def _resume(coroutine: Coroutine[Any, Any, None], waiting_on: Any) -> Generator[Any, Any, None]:
    """Carry on a coroutine that was started by hand (Python 3.11 has no eager tasks)."""
    while True:
        try:
            try:
                received = yield waiting_on
            except BaseException as error:
                waiting_on = coroutine.throw(error)
            else:
                waiting_on = coroutine.send(received)
        except StopIteration:
            return


class _Awaitable:
    __slots__ = ("_generator",)

    def __init__(self, generator: Generator[Any, Any, None]) -> None:
        self._generator = generator

    def __await__(self) -> Generator[Any, Any, None]:
        return (yield from self._generator)


def deliver_to_all(clients: Iterable[Client], frame: str, sender: Client | None = None) -> None:
    """One frame to many clients (but the sender), framed once for all of them."""
    prepared = text_frame(frame.encode())
    for client in list(clients):  # a snapshot: delivering may evict, and so change the set
        if client is not sender:
            client.deliver(frame, prepared)

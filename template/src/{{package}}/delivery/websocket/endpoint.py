"""The `/ws` endpoint: the handshake, then each frame through validation to the router."""

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pydantic import ValidationError
from starlette.responses import JSONResponse
from starlette.types import Message
from starlette.websockets import WebSocket

from ...usecase.receipts import Request
from ..auth import SUBPROTOCOL, AuthenticationError, Authenticator, Identity, presented_token
from ..errors import ErrorCode, ProtocolError, field_problems, to_protocol_error
from ..origins import origin_allowed
from .client import Client, ClientLimits
from .drain import Drain
from .earlier import EarlierReplies
from .hub import Hub
from .prepared import prepared_writer
from .protocol import (
    CloseCode,
    Envelope,
    encode,
    encode_error,
    readable_id,
)
from .replies import ReplyCache, digest
from .router import Caller, Resend, Router

Receive = Callable[[], Awaitable[Message]]
Handle = Callable[[Client, str], Awaitable[None]]
log = logging.getLogger(__name__)
NOT_JSON = object()


@dataclass(frozen=True, slots=True)
class Limits:
    max_connections: int
    allowed_origins: frozenset[str]
    client: ClientLimits


class Endpoint:
    def __init__(
        self,
        hub: Hub,
        drain: Drain,
        router: Router,
        replies: ReplyCache,
        earlier: EarlierReplies,
        authenticator: Authenticator,
        limits: Limits,
    ) -> None:
        self._hub = hub
        self._drain = drain
        self._router = router
        self._replies = replies
        self._earlier = earlier
        self._authenticator = authenticator
        self._limits = limits

    async def handle(self, websocket: WebSocket) -> None:
        identity = await self._admit(websocket)
        if identity is None:
            return
        offered = websocket.scope.get("subprotocols", [])
        await websocket.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
        client = Client(
            websocket.send,
            identity.subject,
            self._limits.client,
            self._hub.evict,
            prepared_writer(websocket.scope.get("extensions")),
        )
        self._hub.register(client)
        log.info("connected", extra={"event": "connect", "subject": client.subject})
        expiry = self._close_at_expiry(client, identity)
        try:
            await read_frames(client, websocket.receive, self._on_frame)
        finally:
            if expiry is not None:
                expiry.cancel()
            self._hub.unregister(client)
            log.info(
                "closed",
                extra={"event": "close", "subject": client.subject, "code": client.close_code},
            )

    async def _admit(self, websocket: WebSocket) -> Identity | None:
        """The caller's identity, or None once the handshake has been refused over HTTP."""
        if not origin_allowed(websocket.headers, self._limits.allowed_origins):
            await self._refuse(websocket, 403, ErrorCode.FORBIDDEN, "origin not allowed")
            return None
        if self._drain.draining or len(self._hub) >= self._limits.max_connections:
            await self._refuse(websocket, 503, ErrorCode.RATE_LIMITED, "too busy; retry later")
            return None
        token = presented_token(websocket.headers, websocket.scope.get("subprotocols", []))
        try:
            return self._authenticator.authenticate(token)
        except AuthenticationError as refusal:
            await self._refuse(websocket, 401, ErrorCode.FORBIDDEN, str(refusal))
            return None

    async def _refuse(
        self, websocket: WebSocket, status: int, code: ErrorCode, message: str
    ) -> None:
        self._hub.stats.refusals += 1
        peer = websocket.client.host if websocket.client else None
        log.info("refused", extra={"event": "refuse", "status": status, "peer": peer})
        body = {"error": {"code": code.value, "message": message}}
        await websocket.send_denial_response(JSONResponse(body, status_code=status))

    def _close_at_expiry(self, client: Client, identity: Identity) -> asyncio.TimerHandle | None:
        if identity.expires_at is None:
            return None
        loop = asyncio.get_running_loop()
        delay = max(0.0, identity.expires_at - time.time())

        return loop.call_later(
            delay, client.close_soon, CloseCode.POLICY_VIOLATION, "credentials expired"
        )

    async def _on_frame(self, client: Client, text: str) -> None:
        try:
            frame = json.loads(text)
        except ValueError:
            frame = NOT_JSON
        if not client.admit():
            self._hub.stats.rate_limited += 1
            error = ProtocolError(ErrorCode.RATE_LIMITED, "too many messages; slow down")
            client.deliver(encode_error(readable_id(frame), error))
            return
        if frame is NOT_JSON:
            error = ProtocolError(ErrorCode.INVALID_JSON, "the frame is not valid JSON")
            client.deliver(encode_error(None, error))
            return
        try:
            envelope = Envelope.model_validate(frame)
        except ValidationError as invalid:
            error = ProtocolError(
                ErrorCode.INVALID_MESSAGE, "the envelope is not valid", field_problems(invalid)
            )
            client.deliver(encode_error(readable_id(frame), error))
            return
        if envelope.type == "ping":
            client.deliver(encode("pong", envelope.id, envelope.data))
        elif envelope.type == "pong":
            return
        elif (resend := self._router.resend(envelope.type)) is Resend.RUNS_AGAIN:
            client.deliver(await self._answer(envelope, Caller(client.subject, client), resend))
        else:
            request = Request(client.subject, envelope.id, digest(envelope))
            # Only a write carries its request down to the use case, to store its receipt.
            caller = Caller(client.subject, client, request if resend is Resend.RECEIPT else None)
            try:
                reply = await self._replies.reply(
                    client.subject,
                    envelope.id,
                    lambda: self._answer(envelope, caller, resend, request),
                    request.digest,
                )
            except ProtocolError as error:  # the id was used for another request
                reply = encode_error(envelope.id, error)
            client.deliver(reply)

    async def _answer(
        self,
        envelope: Envelope,
        caller: Caller,
        resend: Resend,
        request: Request | None = None,
    ) -> str:
        """Run the request once on this instance (the ReplyCache sees to that), unless
        it was answered before a restart or on another instance."""
        with self._drain.request():
            try:
                # A publish looks for its first reply before it runs; a write needs no look-up in
                # the database: its receipt cannot be stored twice, and the failure leads below.
                if (
                    request is not None
                    and resend is Resend.FIRST_REPLY_ANYWHERE
                    and (earlier := await self._earlier.find(request, resend))
                ):
                    return earlier
                reply = await self._router.dispatch(envelope, caller)
                if request is not None:
                    await self._earlier.keep(request, resend, reply)
                return reply
            except Exception as failure:
                if request is not None:
                    # A run of the same request elsewhere may have won the race: answer as it did.
                    with contextlib.suppress(Exception):
                        if earlier := await self._earlier.find(request, resend):
                            return earlier
                error = to_protocol_error(failure)
                if error is None:
                    log.exception("%s %s failed", envelope.type, envelope.id)
                    error = ProtocolError(ErrorCode.INTERNAL_ERROR, "the server failed; try later")
                    # "Try later" must not meet this failure again: a re-send runs anew.
                    self._replies.forget(caller.subject, envelope.id)
                return encode_error(envelope.id, error)


async def read_frames(client: Client, receive: Receive, handle: Handle) -> None:
    """Hand each text frame to `handle`, in order, until the peer goes away.

    This is the connection's only reader, as the client's write pump is its only writer:
    a frame is read, routed and answered before the next is read, so that a client's
    requests are answered in order and a flood from one peer is paced by its own replies.
    """
    while not client.closed:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            client.disconnected(message.get("code"))
            return
        client.heard()
        if client.closed:
            break  # closed meanwhile (evicted, expired): what it still sent is void
        text = message.get("text")
        if text is None:
            await client.close(CloseCode.UNSUPPORTED_DATA, "send JSON text frames, not binary")
            break
        try:
            await handle(client, text)
        except Exception:  # a bug: say so with 1011 rather than drop the connection
            log.exception("closing %s after an unexpected error", client.subject)
            await client.close(CloseCode.INTERNAL_ERROR, "server error")
            break
    await client.finish()

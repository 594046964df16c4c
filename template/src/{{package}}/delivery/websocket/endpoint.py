"""The `/ws` endpoint: the handshake, then each frame through validation to the router."""

import json
import logging
from dataclasses import dataclass

from pydantic import ValidationError
from starlette.responses import JSONResponse
from starlette.websockets import WebSocket

from ..errors import field_problems, to_protocol_error
from .client import Client
from .hub import Hub
from .protocol import Envelope, ErrorCode, ProtocolError, encode, encode_error, readable_id
from .replies import ReplyCache
from .router import Caller, Router

log = logging.getLogger(__name__)

SUBPROTOCOL = "realtime.v1"
ANONYMOUS = "anonymous"


@dataclass(frozen=True, slots=True)
class Limits:
    max_connections: int
    send_queue_size: int


class Endpoint:
    def __init__(self, hub: Hub, router: Router, replies: ReplyCache, limits: Limits) -> None:
        self._hub = hub
        self._router = router
        self._replies = replies
        self._limits = limits

    async def handle(self, websocket: WebSocket) -> None:
        if self._hub.draining or len(self._hub) >= self._limits.max_connections:
            refusal = {"error": {"code": "unavailable", "message": "try again later"}}
            await websocket.send_denial_response(JSONResponse(refusal, status_code=503))
            return
        offered = websocket.scope.get("subprotocols", [])
        await websocket.accept(subprotocol=SUBPROTOCOL if SUBPROTOCOL in offered else None)
        queue_limit = self._limits.send_queue_size
        client = Client(websocket.send, ANONYMOUS, queue_limit, self._hub.unregister)
        self._hub.register(client)
        try:
            await client.read_pump(websocket.receive, self._on_frame)
        finally:
            self._hub.unregister(client)

    async def _on_frame(self, client: Client, text: str) -> None:
        try:
            frame = json.loads(text)
        except ValueError:
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
        elif envelope.type != "pong":
            caller = Caller(client.subject, client)
            reply = await self._replies.reply(
                client.subject, envelope.id, lambda: self._answer(envelope, caller)
            )
            client.deliver(reply)

    async def _answer(self, envelope: Envelope, caller: Caller) -> str:
        try:
            return await self._router.dispatch(envelope, caller)
        except Exception as failure:
            error = to_protocol_error(failure)
            if error is None:
                log.exception("%s %s failed", envelope.type, envelope.id)
                error = ProtocolError(ErrorCode.INTERNAL_ERROR, "the server failed; try later")
            return encode_error(envelope.id, error)

"""The router: from a message type to its handler, with the data validated on the way."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

from pydantic import BaseModel

from ...usecase.receipts import Request
from ..errors import ErrorCode, ProtocolError
from .client import Client
from .protocol import Envelope, encode

M = TypeVar("M", bound=BaseModel)


class Resend(Enum):
    """What a re-sent request (same subject, same id) gets, by the kind of request."""

    RUNS_AGAIN = "runs again"  # it is about the connection itself (room.join)
    FIRST_REPLY_HERE = "first reply, from this instance"  # reads: elsewhere they run again
    FIRST_REPLY_ANYWHERE = "first reply, from any instance"  # through the backplane
    RECEIPT = "first reply, stored with the write"  # writes (usecase/receipts.py)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent a request, as handlers see it; `request` names a write that keeps a receipt."""

    subject: str
    client: Client
    request: Request | None = None


Handler = Callable[[Any, Caller], Awaitable[dict[str, Any]]]


class Router:
    """Maps `type` to a data model and a handler; the reply is an `ack` with the result."""

    def __init__(self) -> None:
        self._routes: dict[str, tuple[type[BaseModel], Handler]] = {}
        self._resends: dict[str, Resend] = {}
        self._events: dict[str, type[BaseModel]] = {}

    def add(
        self,
        type: str,
        model: type[M],
        handler: Callable[[M, Caller], Awaitable[dict[str, Any]]],
        resend: Resend = Resend.FIRST_REPLY_HERE,
    ) -> None:
        """Route `type`; `resend` says what a re-send of it gets."""
        if type in self._routes:
            raise ValueError(f"{type!r} is routed twice")
        self._routes[type] = (model, handler)
        self._resends[type] = resend

    def resend(self, type: str) -> Resend:
        """What a re-send of `type` gets; an unknown type runs again (and fails again)."""
        return self._resends.get(type, Resend.RUNS_AGAIN)

    def announce(self, type: str, model: type[BaseModel]) -> None:
        """Declare a message the server sends on its own (an event), for the AsyncAPI document."""
        self._events[type] = model

    @property
    def requests(self) -> dict[str, type[BaseModel]]:
        """Each request type and the model of its data."""
        return {type: model for type, (model, _) in sorted(self._routes.items())}

    @property
    def events(self) -> dict[str, type[BaseModel]]:
        return dict(sorted(self._events.items()))

    async def dispatch(self, envelope: Envelope, caller: Caller) -> str:
        """Run the handler and return the encoded ack; raises on failure."""
        route = self._routes.get(envelope.type)
        if route is None:
            raise ProtocolError(ErrorCode.UNKNOWN_TYPE, f"no message type {envelope.type!r}")
        model, handler = route
        result = await handler(model.model_validate(envelope.data), caller)
        return encode("ack", envelope.id, result)

"""The router: from a message type to its handler, with the data validated on the way."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from ...usecase.receipts import Request
from ..errors import ErrorCode, ProtocolError
from .client import Client
from .protocol import Envelope, encode

M = TypeVar("M", bound=BaseModel)


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
        self._forgotten: set[str] = set()
        self._durable: set[str] = set()
        self._events: dict[str, type[BaseModel]] = {}

    def add(
        self,
        type: str,
        model: type[M],
        handler: Callable[[M, Caller], Awaitable[dict[str, Any]]],
        remember: bool = True,
        durable: bool = False,
    ) -> None:
        """Route `type`; `remember=False` for requests about the connection itself (room.join),
        whose replies must not be replayed to a re-send on another connection; `durable=True`
        for writes whose reply is stored with the write (usecase/receipts.py), so that a
        re-send after a restart, or to another instance, is answered from it."""
        if type in self._routes:
            raise ValueError(f"{type!r} is routed twice")
        self._routes[type] = (model, handler)
        if not remember:
            self._forgotten.add(type)
        if durable:
            self._durable.add(type)

    def remembers(self, type: str) -> bool:
        """Whether a re-sent request of this type gets the first reply again."""
        return type not in self._forgotten

    def is_durable(self, type: str) -> bool:
        return type in self._durable

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

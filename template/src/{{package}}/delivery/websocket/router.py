"""The router: from a message type to its handler, with the data validated on the way."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from .client import Client
from .protocol import Envelope, ErrorCode, ProtocolError, encode

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent a request, as handlers see it."""

    subject: str
    client: Client


Handler = Callable[[Any, Caller], Awaitable[dict[str, Any]]]


class Router:
    """Maps `type` to a data model and a handler; the reply is an `ack` with the result."""

    def __init__(self) -> None:
        self._routes: dict[str, tuple[type[BaseModel], Handler]] = {}

    def add(
        self,
        type: str,
        model: type[M],
        handler: Callable[[M, Caller], Awaitable[dict[str, Any]]],
    ) -> None:
        if type in self._routes:
            raise ValueError(f"{type!r} is routed twice")
        self._routes[type] = (model, handler)

    @property
    def types(self) -> list[str]:
        return sorted(self._routes)

    async def dispatch(self, envelope: Envelope, caller: Caller) -> str:
        """Run the handler and return the encoded ack; raises on failure."""
        route = self._routes.get(envelope.type)
        if route is None:
            raise ProtocolError(ErrorCode.UNKNOWN_TYPE, f"no message type {envelope.type!r}")
        model, handler = route
        result = await handler(model.model_validate(envelope.data), caller)
        return encode("ack", envelope.id, result)

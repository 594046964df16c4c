"""Who is calling: one authenticator serves REST and the WebSocket handshake alike."""

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass

from starlette.datastructures import Headers

SUBPROTOCOL = "realtime.v1"
BEARER_SUBPROTOCOL = "bearer."
ANONYMOUS = "anonymous"


@dataclass(frozen=True, slots=True)
class Identity:
    subject: str
    expires_at: float | None = None  # Unix time after which the credentials are void


class AuthenticationError(Exception):
    """Missing or bad credentials; the message says which."""


class Authenticator(ABC):
    @abstractmethod
    def authenticate(self, token: str | None) -> Identity: ...


class Anonymous(Authenticator):
    """No authentication: every caller is the same subject."""

    def authenticate(self, token: str | None) -> Identity:
        return Identity(ANONYMOUS)


def presented_token(headers: Headers, subprotocols: Iterable[str] = ()) -> str | None:
    """The bearer token from `Authorization`, or from a browser's `bearer.<token>` subprotocol.

    Never from the query string: query strings end up in access logs.
    """
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    for offered in subprotocols:
        if offered.startswith(BEARER_SUBPROTOCOL) and len(offered) > len(BEARER_SUBPROTOCOL):
            return offered.removeprefix(BEARER_SUBPROTOCOL)
    return None

"""What uvicorn_tuning.py relies on in uvicorn, checked on the installed uvicorn.

These are not uvicorn's public API. An upgrade that changes them fails here, naming what is
gone, instead of slowing or breaking the service in ways only the e2e tests would notice.
"""

import asyncio
import inspect
from typing import Any

import pytest
import uvicorn
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState

from tests.unit.service_classes import Server, WebSocketProtocol

OVERRIDDEN = [
    (WebSocketProtocol, WebSocketsSansIOProtocol, "connection_made"),
    (WebSocketProtocol, WebSocketsSansIOProtocol, "handle_connect"),
    (WebSocketProtocol, WebSocketsSansIOProtocol, "send_receive_event_to_app"),
    (Server, uvicorn.Server, "startup"),
    (Server, uvicorn.Server, "shutdown"),
]
# Set on every connection by uvicorn's protocol, read or written by ours.
STATE = ("read_paused", "queue", "transport", "writable", "close_sent", "handshake_complete")


def changed(what: str) -> str:
    return (
        f"uvicorn {uvicorn.__version__} changed {what}, which uvicorn_tuning.py relies on: "
        "adapt that module, or keep the uvicorn version of uv.lock"
    )


async def nothing(scope: Any, receive: Any, send: Any) -> None:
    return None


class Transport(asyncio.Transport):
    """Just enough of a socket's transport for a protocol to start."""

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def is_closing(self) -> bool:
        return False


@pytest.mark.parametrize(("ours", "base", "method"), OVERRIDDEN)
def test_the_methods_overridden_still_exist_with_the_same_arguments(
    ours: type, base: type, method: str
) -> None:
    original = getattr(base, method, None)
    assert original is not None, changed(f"{base.__name__}.{method} (it is gone)")
    arguments = list(inspect.signature(original).parameters)
    assert arguments == list(inspect.signature(getattr(ours, method)).parameters), changed(
        f"the arguments of {base.__name__}.{method}"
    )


async def test_a_new_connection_has_the_state_the_tuning_uses() -> None:
    config = uvicorn.Config(nothing, ws="websockets-sansio", lifespan="off")
    config.load()
    protocol = WebSocketProtocol(config, ServerState(), {})
    protocol.connection_made(Transport())

    missing = [name for name in STATE if not hasattr(protocol, name)]
    assert missing == [], changed(f"the state of a connection ({', '.join(missing)} gone)")
    assert isinstance(protocol.writable, asyncio.Event), changed("`writable` (not an Event)")
    assert hasattr(protocol.conn, "extensions"), changed("`conn.extensions`")

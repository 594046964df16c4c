"""Prepared frames: a broadcast is serialized once and written to every socket as is.

A server's text frame is the same bytes for every peer (servers do not mask), yet the ASGI
`websocket.send` event makes the server encode and frame the text again for each recipient.
`PreparedFrameProtocol` is uvicorn's WebSocket protocol plus one ASGI extension, offered on
connections that negotiated no compression: a callable that writes finished frame bytes.
Under any other server the extension is absent and clients send through ASGI as usual.
"""

import struct
from collections.abc import Callable
from typing import cast

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request

EXTENSION = "clean_realtime.prepared_frames"
WritePrepared = Callable[[bytes], bool]


def text_frame(payload: bytes) -> bytes:
    """One final, unmasked text frame holding `payload` (RFC 6455, section 5.2)."""
    size = len(payload)
    if size < 126:
        return bytes((0x81, size)) + payload
    if size < 1 << 16:
        return struct.pack("!BBH", 0x81, 126, size) + payload
    return struct.pack("!BBQ", 0x81, 127, size) + payload


def prepared_writer(scope_extensions: dict[str, object] | None) -> WritePrepared | None:
    """The connection's prepared-frame writer, if the server offers one."""
    offer = (scope_extensions or {}).get(EXTENSION)
    write = offer.get("write") if isinstance(offer, dict) else None
    return cast(WritePrepared, write) if callable(write) else None


class PreparedFrameProtocol(WebSocketsSansIOProtocol):
    """Uvicorn's websockets-sansio protocol, offering the prepared-frame extension."""

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        # A compressed connection needs each frame deflated with its own context.
        if not self.close_sent and not self.conn.extensions:
            self.scope["extensions"][EXTENSION] = {"write": self.write_prepared}

    def write_prepared(self, frame: bytes) -> bool:
        """Write a finished frame now; False when the peer pushes back or is closing, so the
        caller takes the ASGI path, which waits for the transport or reports the peer gone."""
        if (
            self.close_sent
            or not self.handshake_complete
            or not self.writable.is_set()
            or self.transport.is_closing()
        ):
            return False
        self.transport.write(frame)
        return True

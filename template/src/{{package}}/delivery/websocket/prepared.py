"""Prepared frames: a broadcast is serialized once and written to every socket as is.

A server's text frame is the same bytes for every peer (servers do not mask), yet the ASGI
`websocket.send` event makes the server encode and frame the text again for each recipient.
The server (uvicorn_tuning.py) offers them as an ASGI extension on connections that negotiated no
compression: a callable that writes finished frame bytes. Under any other server the
extension is absent and clients send through ASGI as usual.
"""

import struct
from collections.abc import Callable
from typing import cast

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

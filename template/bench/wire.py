"""Lean clients for the load generator: WebSocket and HTTP/1.1 on bare asyncio.

A generator holds thousands of connections on one core, so its clients do as little as the
protocol allows: one `asyncio.Protocol` per WebSocket that parses frames from a bytearray and
hands each text message to a callback with the time it arrived. The handshake offers
permessage-deflate as browsers do (`client_max_window_bits`); when a server accepts it, the
client inflates what it receives and sends its own frames uncompressed, as the extension allows.
"""

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import os
import socket
import time
import zlib
from collections.abc import Callable
from typing import Any

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
DEFLATE_TAIL = b"\x00\x00\xff\xff"
OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
NO_STATUS = 1005  # a close frame without a code
ABNORMAL = 1006  # the connection ended without a close frame

OnMessage = Callable[["WebSocket", bytes, float], None]


class HandshakeError(Exception):
    """The server refused the upgrade (or answered something that is not one)."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"HTTP {status}: {body[:200]!r}")
        self.status = status


def _ignore(connection: "WebSocket", payload: bytes, arrived: float) -> None:
    """The default message callback."""


def _masked(payload: bytes, key: bytes) -> bytes:
    size = len(payload)
    if not size:
        return payload
    stream = (key * (size // 4 + 1))[:size]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(stream, "big")).to_bytes(size, "big")


def _frame(opcode: int, payload: bytes) -> bytes:
    """A masked client frame (RFC 6455 section 5.2), in one piece."""
    size = len(payload)
    if size < 126:
        header = bytes((0x80 | opcode, 0x80 | size))
    elif size < 65536:
        header = bytes((0x80 | opcode, 0x80 | 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, 0x80 | 127)) + size.to_bytes(8, "big")
    key = os.urandom(4)
    return header + key + _masked(payload, key)


class WebSocket(asyncio.Protocol):
    """One client connection. `on_message(connection, payload, arrived)` gets each message."""

    def __init__(self, request: bytes, key: bytes, index: int, on_message: OnMessage) -> None:
        self.index = index
        self.on_message = on_message
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.close_code: int | None = None
        self.transport: asyncio.Transport | None = None
        self._request = request
        self._accept = base64.b64encode(hashlib.sha1(key + GUID).digest())  # noqa: S324
        self._buffer = bytearray()
        self._upgraded = False
        self._inflater: Any = None
        self._fragments: list[bytes] | None = None
        self._compressed = False
        self._close_sent = False

    # asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self._request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"connection lost in the handshake: {exc}"))
        if not self.closed.done():
            self.closed.set_result(self.close_code or ABNORMAL)

    def data_received(self, data: bytes) -> None:
        arrived = time.monotonic()
        buffer = self._buffer
        buffer += data
        if not self._upgraded and (self.opened.done() or not self._handshake(buffer)):
            return
        position, size = 0, len(buffer)
        while size - position >= 2:
            first, second = buffer[position], buffer[position + 1]
            length, start = second & 0x7F, position + 2
            if length == 126:
                if size - position < 4:
                    break
                length, start = int.from_bytes(buffer[start : start + 2], "big"), start + 2
            elif length == 127:
                if size - position < 10:
                    break
                length, start = int.from_bytes(buffer[start : start + 8], "big"), start + 8
            if second & 0x80:  # servers never mask; skip the key if one does
                start += 4
            end = start + length
            if end > size:
                break
            self._on_frame(first, bytes(buffer[start:end]), arrived)
            position = end
        del buffer[:position]

    # frames

    def _on_frame(self, first: int, payload: bytes, arrived: float) -> None:
        opcode = first & 0x0F
        final = first & 0x80
        if opcode in (OP_TEXT, OP_BINARY):
            if final:
                if first & 0x40:
                    payload = self._inflater.decompress(payload + DEFLATE_TAIL)
                self.on_message(self, payload, arrived)
            else:
                self._fragments = [payload]
                self._compressed = bool(first & 0x40)
        elif opcode == OP_CONTINUATION and self._fragments is not None:
            self._fragments.append(payload)
            if final:
                payload = b"".join(self._fragments)
                self._fragments = None
                if self._compressed:
                    payload = self._inflater.decompress(payload + DEFLATE_TAIL)
                self.on_message(self, payload, arrived)
        elif opcode == OP_PING:
            self._write(_frame(OP_PONG, payload))
        elif opcode == OP_CLOSE:
            self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else NO_STATUS
            if not self._close_sent:
                self._close_sent = True
                self._write(_frame(OP_CLOSE, payload[:2]))
            if self.transport is not None:
                self.transport.close()

    def _handshake(self, buffer: bytearray) -> bool:
        """Parse the server's answer; True once upgraded (what follows it stays in `buffer`)."""
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = bytes(buffer[:end]).decode("latin-1").split("\r\n")
        del buffer[: end + 4]
        status = int(head[0].split(" ", 2)[1])
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if status != 101 or headers.get("sec-websocket-accept", "").encode() != self._accept:
            self.opened.set_exception(HandshakeError(status, bytes(buffer)))
            if self.transport is not None:
                self.transport.close()
            return False
        extensions = headers.get("sec-websocket-extensions", "")
        if "permessage-deflate" in extensions:
            bits = 15
            for parameter in extensions.split(";"):
                name, _, value = parameter.strip().partition("=")
                if name == "server_max_window_bits" and value:
                    bits = int(value.strip('"'))
            # Without context takeover each message starts afresh; inflating them with one
            # running decompressor is still correct, since none refers back past its start.
            self._inflater = zlib.decompressobj(-bits)
        self._upgraded = True
        self.opened.set_result(None)
        return True

    # what the load generator calls

    @property
    def compressed(self) -> bool:
        """Whether the server accepted permessage-deflate."""
        return self._inflater is not None

    @property
    def is_open(self) -> bool:
        return self._upgraded and not self.closed.done() and not self._close_sent

    def send_text(self, text: bytes) -> None:
        self._write(_frame(OP_TEXT, text))

    def send_json(self, frame: dict[str, Any]) -> None:
        self.send_text(json.dumps(frame, separators=(",", ":")).encode())

    def pause_reading(self) -> None:
        if self.transport is not None:
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    async def close(self, within: float) -> int:
        """Close with 1000 and wait (at most `within` seconds) for the server's answer."""
        if not self._close_sent and self.transport is not None and not self.transport.is_closing():
            self._close_sent = True
            self._write(_frame(OP_CLOSE, (1000).to_bytes(2, "big")))
        try:
            return await asyncio.wait_for(asyncio.shield(self.closed), within)
        except TimeoutError:
            if self.transport is not None:
                self.transport.abort()
            return ABNORMAL

    def abort(self) -> None:
        # Once the connection is lost, asyncio's transport may no longer have a loop to abort.
        if self.transport is not None and not self.closed.done():
            self.transport.abort()

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)


async def open_websocket(
    port: int,
    headers: dict[str, str],
    index: int = 0,
    on_message: OnMessage = _ignore,
    within: float = 10.0,
    buffers: int | None = None,
    path: str = "/ws",
) -> WebSocket:
    """Connect to ws://127.0.0.1:`port``path`; `buffers` shrinks SO_RCVBUF and SO_SNDBUF."""
    loop = asyncio.get_running_loop()
    key = base64.b64encode(os.urandom(16))
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key.decode()}",
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()

    def factory() -> WebSocket:
        return WebSocket(request, key, index, on_message)

    async def connect() -> WebSocket:
        if buffers is None:
            _, protocol = await loop.create_connection(factory, "127.0.0.1", port)
        else:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffers)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, buffers)
            sock.setblocking(False)
            try:
                await loop.sock_connect(sock, ("127.0.0.1", port))
            except BaseException:
                sock.close()
                raise
            _, protocol = await loop.create_connection(factory, sock=sock)
        await protocol.opened
        return protocol

    return await asyncio.wait_for(connect(), within)


class HttpConnection:
    """One HTTP/1.1 keep-alive connection: requests one after another, bodies by length."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int):
        self._reader = reader
        self._writer = writer
        self._host = f"127.0.0.1:{port}"

    @classmethod
    async def open(cls, port: int, within: float = 10.0) -> "HttpConnection":
        connecting = asyncio.open_connection("127.0.0.1", port)
        reader, writer = await asyncio.wait_for(connecting, within)
        return cls(reader, writer, port)

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None = None
    ) -> tuple[int, bytes]:
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self._host}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b""))
        head = (await self._reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        length = 0
        for line in head[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding":
                raise ValueError("chunked responses are not supported by the load generator")
        return status, await self._reader.readexactly(length) if length else b""

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(TimeoutError, OSError):
            await asyncio.wait_for(self._writer.wait_closed(), 2.0)


def jwt_hs256(secret: str, subject: str, lifetime: float) -> str:
    """An HS256 JSON Web Token with `sub` and `exp`, as the service's tests mint them."""

    def encoded(part: bytes) -> bytes:
        return base64.urlsafe_b64encode(part).rstrip(b"=")

    claims = {"sub": subject, "exp": int(time.time() + lifetime)}
    header = encoded(b'{"alg":"HS256","typ":"JWT"}')
    body = encoded(json.dumps(claims, separators=(",", ":")).encode())
    signed = header + b"." + body
    signature = encoded(hmac.new(secret.encode(), signed, hashlib.sha256).digest())
    return (signed + b"." + signature).decode()

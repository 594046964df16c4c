"""`python -m bench.baseline`: the yardstick, the `websockets` library alone.

A set of connections and `websockets.broadcast()`, speaking the same frames as the service for
what the benchmark uses: `ping`, `room.join` and `room.publish` (all joined connections are one
room), and `<entity>.create` / `<entity>.get` on a dict in memory, each create broadcast as an
`<entity>.created` event (to the joined connections with rooms, to every connection without).
It checks no credentials, validates nothing and stores nothing on disk: what it costs is the
floor for any Python service on this machine, not a competitor. One limit it keeps, as any
service must and with the service's figures: a peer that stops reading is evicted with 1013
once 1 MiB waits unsent for it, so that the stalled rounds compare like with like.

The REST floor is plain asyncio on a second port (`--http-port`): HTTP/1.1 with keep-alive
for `POST <collection>` and `GET <collection>/<id>`, since the library serves no REST.
"""

import argparse
import asyncio
import contextlib
import json
import signal
import socket
import uuid
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State

from bench.system import raise_fd_limit

Frame = dict[str, Any]
SEND_BUFFER = 256 * 1024  # kernel bytes for a peer that does not read, as the service caps them
EVICT_AT = 1024 * 1024  # bytes unsent to a peer past which it is evicted (SEND_QUEUE_BYTES)
TRY_AGAIN_LATER = 1013


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def encode(kind: str, frame_id: str | None, data: Any, room: str | None = None) -> str:
    frame: Frame = {"type": kind, "id": frame_id, "timestamp": now(), "data": data}
    if room is not None:
        frame["room"] = room
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


class EvictingConnection(ServerConnection):
    """A connection that closes with 1013 once EVICT_AT bytes wait for its peer.

    The transport itself calls `pause_writing` when its buffer passes the high-water mark,
    which `serve(write_limit=EVICT_AT)` sets: a peer that keeps up costs nothing more.
    """

    eviction: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)

    def pause_writing(self) -> None:
        super().pause_writing()
        if self.eviction is None and self.protocol.state is State.OPEN:
            self.eviction = self.loop.create_task(self.close(TRY_AGAIN_LATER, "slow consumer"))


class Baseline:
    def __init__(self, entity: str, collection: str, rooms: bool) -> None:
        self.entity = entity
        self.collection = collection
        self.rooms = rooms
        self.connections: set[ServerConnection] = set()
        self.joined: set[ServerConnection] = set()
        self.store: dict[str, Frame] = {}

    def create(self, data: Frame) -> Frame:
        moment = now()
        entity = {"id": uuid.uuid4().hex, "version": 1, "created_at": moment}
        entity |= {"updated_at": moment, "created_by": "anonymous"} | data
        self.store[str(entity["id"])] = entity
        event = encode(f"{self.entity}.created", f"evt-{uuid.uuid4().hex}", entity)
        broadcast(self.joined if self.rooms else self.connections, event)
        return entity

    async def handler(self, connection: ServerConnection) -> None:
        self.connections.add(connection)
        try:
            async for message in connection:
                reply = self.answer(connection, message)
                if reply is not None:
                    await connection.send(reply)
        except ConnectionClosed:
            pass
        finally:
            self.connections.discard(connection)
            self.joined.discard(connection)

    def answer(self, connection: ServerConnection, message: str | bytes) -> str | None:
        frame = json.loads(message)
        kind, frame_id, data = frame.get("type"), frame.get("id"), frame.get("data") or {}
        if kind == "ping":
            return encode("pong", frame_id, data)
        if kind == "room.join":
            self.joined.add(connection)
            return encode("ack", frame_id, {"room": data["room"], "members": len(self.joined)})
        if kind == "room.publish":
            room = data["room"]
            event = {"from": "anonymous", "payload": data.get("payload")}
            text = encode("room.message", f"msg-{uuid.uuid4().hex}", event, room=room)
            broadcast((peer for peer in self.joined if peer is not connection), text)
            return encode("ack", frame_id, {"room": room})
        if kind == f"{self.entity}.create":
            return encode("ack", frame_id, self.create(data))
        if kind == f"{self.entity}.get":
            entity = self.store.get(str(data.get("id")))
            if entity is None:
                error = {"code": "not_found", "message": "no such entity"}
                return encode("error", frame_id, error)
            return encode("ack", frame_id, entity)
        return encode("error", frame_id, {"code": "unknown_type", "message": f"no type {kind}"})

    def health(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.path == "/health":
            return connection.respond(HTTPStatus.OK, '{"status":"ok"}\n')
        return None

    async def http(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """HTTP/1.1 with keep-alive: one request after another on the connection."""
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
                method, path, _ = head[0].split(" ", 2)
                length = 0
                for line in head[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                body = await reader.readexactly(length) if length else b""
                status, answer = self.route(method, path, body)
                content = json.dumps(answer, separators=(",", ":")).encode()
                writer.write(
                    f"HTTP/1.1 {status.value} {status.phrase}\r\n"
                    "content-type: application/json\r\n"
                    f"content-length: {len(content)}\r\n\r\n".encode()
                    + content
                )
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def route(self, method: str, path: str, body: bytes) -> tuple[HTTPStatus, Frame]:
        if method == "POST" and path == self.collection:
            return HTTPStatus.CREATED, self.create(json.loads(body))
        if method == "GET" and path.startswith(self.collection + "/"):
            entity = self.store.get(path.removeprefix(self.collection + "/"))
            if entity is not None:
                return HTTPStatus.OK, entity
        error = {"code": "not_found", "message": "no such entity or route"}
        return HTTPStatus.NOT_FOUND, {"error": error}


async def run(arguments: argparse.Namespace) -> None:
    raise_fd_limit()
    baseline = Baseline(arguments.entity, arguments.collection, arguments.rooms)
    stop = asyncio.get_running_loop().create_future()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.cancel)
    http = await asyncio.start_server(baseline.http, "127.0.0.1", arguments.http_port, backlog=4096)
    async with (
        http,
        serve(
            baseline.handler,
            "127.0.0.1",
            arguments.port,
            compression="deflate" if arguments.compression else None,
            process_request=baseline.health,
            create_connection=EvictingConnection,
            write_limit=EVICT_AT,
            backlog=4096,
        ),
    ):
        with contextlib.suppress(asyncio.CancelledError):
            await stop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--entity", required=True, help="snake name, e.g. user")
    parser.add_argument("--collection", required=True, help="REST path, e.g. /api/users")
    parser.add_argument("--rooms", action="store_true", help="events go to joined connections")
    parser.add_argument("--compression", action="store_true", help="accept permessage-deflate")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()

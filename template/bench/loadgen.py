"""`python -m bench.loadgen`: one load-generator process, driven by `bench.run`.

It reads one JSON command per line on stdin and answers each with one JSON line on stdout. It
holds its share of the listening clients, and generator 0 also holds the publisher and the
stalled client. Every delivery is recorded with the time it arrived (`time.monotonic()`, a
clock that all processes of the machine share), so that latency is arrival minus the moment
the publisher sent the message, whichever process each happened in.
"""

import asyncio
import contextlib
import gc
import json
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.system import raise_fd_limit
from bench.wire import HandshakeError, HttpConnection, WebSocket, jwt_hs256, open_websocket

REPLIES = frozenset({"ack", "error", "pong"})
TOKEN_LIFETIME = 3 * 3600  # seconds; longer than any run
# Bytes of SO_RCVBUF and SO_SNDBUF for a client that will stall: what the server sends waits on
# its side, and the pings the server no longer reads wait in our transport, where `pushed_back`
# sees them.
STALL_BUFFERS = 4096
STALL_WRITE_LIMIT = 1 << 20  # unsent bytes past which the stalled client stops pinging
STALL_QUIET = 1.0  # seconds the server must leave its pings unread: it has stopped reading
CLOSE_TIMEOUT = 5.0
EVICTED = 1013  # the close code of a slow consumer's eviction

Frame = dict[str, Any]


@dataclass
class Target:
    """The server under test, as the orchestrator describes it: one port per instance."""

    ports: list[int]
    http_port: int
    rooms: bool
    room: str
    entity: str
    collection: str
    sample: Frame
    credentials: Frame  # {"kind": "none" | "jwt" | "token", "secret"?, "tokens"?}

    @property
    def event_type(self) -> str:
        """What a listener receives for each message the publisher sends."""
        return "room.message" if self.rooms else f"{self.entity}.created"

    def instance(self, index: int) -> int:
        """Which instance client `index` connects to: listeners round robin, everyone else
        (the publisher, the request/response clients) the first."""
        return index % len(self.ports) if index >= 0 else 0

    def port(self, index: int) -> int:
        return self.ports[self.instance(index)]

    def token(self, index: int) -> str | None:
        kind = self.credentials["kind"]
        if kind == "jwt":
            subject = "bench-publisher" if index < 0 else f"bench-{index}"
            return jwt_hs256(self.credentials["secret"], subject, TOKEN_LIFETIME)
        if kind == "token":
            tokens: list[str] = self.credentials["tokens"]
            return tokens[index % len(tokens)]
        return None

    def headers(self, index: int) -> dict[str, str]:
        token = self.token(index)
        return {} if token is None else {"Authorization": f"Bearer {token}"}


@dataclass
class Phase:
    """Deliveries recorded since `begin`."""

    excluded: int | None  # the index of a listener whose deliveries are kept apart
    listeners: int  # listeners counted: connected and not evicted (nor the excluded one)
    arrivals: dict[str, list[float]] = field(default_factory=dict)
    received: int = 0
    excluded_received: int = 0
    last_arrival: float = 0.0
    started: float = field(default_factory=time.monotonic)
    cpu_started: float = field(default_factory=time.process_time)


def pushed_back(connection: WebSocket) -> bool:
    """Whether the server is not reading `connection`: STALL_WRITE_LIMIT bytes wait unsent."""
    transport = connection.transport
    return transport is not None and transport.get_write_buffer_size() >= STALL_WRITE_LIMIT


async def wait_until(condition: Callable[[], bool], seconds: float) -> None:
    """Until `condition()` holds, or for `seconds` at most; it is checked every 20 ms."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        await asyncio.sleep(0.02)


class Generator:
    def __init__(self) -> None:
        self.target: Target | None = None
        self.listeners: list[WebSocket] = []
        self.publisher: WebSocket | None = None
        self.stalled: WebSocket | None = None
        self.stallers: list[WebSocket] = []  # listeners set aside to stall, one per round
        self.evicted: set[int] = set()  # stalled listeners the server closed with 1013
        self.pinger: asyncio.Task[None] | None = None
        self.pinged_at = 0.0  # when the stalled client last sent a ping
        self.phase: Phase | None = None
        self.pending: dict[str, asyncio.Future[Frame]] = {}
        self.sequence = 0
        # Request ids unique across generators and runs: the service replays the reply to an
        # id it has seen from the same subject instead of running the request again.
        self.prefix = secrets.token_hex(4)

    # message handling: one json.loads per message, then either a reply or a delivery

    def on_message(self, connection: WebSocket, payload: bytes, arrived: float) -> None:
        try:
            frame = json.loads(payload)
        except ValueError:
            return
        if not isinstance(frame, dict):
            return
        kind = frame.get("type")
        if kind == "ping":  # the service's heartbeat: answer as every client must
            connection.send_json({"type": "pong", "id": frame.get("id")})
            return
        if kind in REPLIES:
            waiter = self.pending.pop(str(frame.get("id")), None)
            if waiter is not None and not waiter.done():
                waiter.set_result(frame)
            return
        phase = self.phase
        if phase is None or connection.index < 0 or self.target is None:
            return
        if kind != self.target.event_type:
            return
        data = frame.get("data")
        if not isinstance(data, dict):
            return
        if self.target.rooms:
            body = data.get("payload")
            key = body.get("k") if isinstance(body, dict) else None
        else:
            key = data.get("id")
        if not isinstance(key, str):
            return
        if connection.index == phase.excluded:
            phase.excluded_received += 1
            return
        phase.received += 1
        phase.last_arrival = arrived
        times = phase.arrivals.get(key)
        if times is None:
            phase.arrivals[key] = [arrived]
        else:
            times.append(arrived)

    def new_id(self, prefix: str) -> str:
        self.sequence += 1
        return f"{prefix}-{self.prefix}-{self.sequence}"

    async def request(
        self, connection: WebSocket, kind: str, data: Frame, within: float = 30.0
    ) -> Frame:
        """Send a request and wait for its reply (an ack, error or pong)."""
        request_id = self.new_id("g")
        waiter: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self.pending[request_id] = waiter
        connection.send_json({"type": kind, "id": request_id, "data": data})
        try:
            return await asyncio.wait_for(waiter, within)
        finally:
            self.pending.pop(request_id, None)

    async def open_client(
        self, index: int, buffers: int | None = None, join: bool = True
    ) -> WebSocket:
        """A connected client (index < 0: not a listener), in the room when there are rooms."""
        assert self.target is not None
        connection = await open_websocket(
            self.target.port(index),
            self.target.headers(index),
            index,
            self.on_message,
            buffers=buffers,
        )
        if join and self.target.rooms:
            try:
                reply = await self.request(connection, "room.join", {"room": self.target.room})
            except BaseException:
                connection.abort()
                raise
            if reply.get("type") != "ack":
                connection.abort()
                raise RuntimeError(f"room.join refused: {reply}")
        return connection

    # commands

    async def cmd_target(self, **target: Any) -> Frame:
        self.target = Target(**target)
        return {}

    async def cmd_connect(
        self, start: int, count: int, concurrency: int = 50, stalling: int = 0
    ) -> Frame:
        """Open `count` listeners (indices from `start`); the first `stalling` of them will
        stall later, one in each stalled round."""
        assert self.target is not None
        target = self.target
        gate = asyncio.Semaphore(concurrency)
        times: list[float] = []
        errors: list[str] = []
        opened: list[WebSocket] = []

        async def one(index: int) -> None:
            async with gate:
                began = time.monotonic()
                stalls = index < start + stalling
                try:
                    connection = await self.open_client(index, STALL_BUFFERS if stalls else None)
                except (OSError, TimeoutError, HandshakeError, RuntimeError) as error:
                    errors.append(f"{type(error).__name__}: {error}")
                    return
                times.append(round((time.monotonic() - began) * 1000, 3))
                opened.append(connection)
                if stalls:
                    self.stallers.append(connection)

        began = time.monotonic()
        await asyncio.gather(*(one(index) for index in range(start, start + count)))
        self.listeners.extend(sorted(opened, key=lambda connection: connection.index))
        per_instance = [0] * len(target.ports)
        for connection in opened:
            per_instance[target.instance(connection.index)] += 1
        return {
            "per_instance": per_instance,
            "connected": len(opened),
            "failed": len(errors),
            "errors": errors[:5],
            "connect_ms": times,
            "compressed": sum(connection.compressed for connection in opened),
            "seconds": time.monotonic() - began,
        }

    async def cmd_publisher(self) -> Frame:
        self.publisher = await self.open_client(-1)
        return {"compressed": self.publisher.compressed}

    async def cmd_seed(self) -> Frame:
        """Create one entity (for the `get` round trips); returns its id."""
        assert self.target is not None
        connection = await self.open_client(-1, join=False)
        try:
            kind = f"{self.target.entity}.create"
            reply = await self.request(connection, kind, self.target.sample)
        finally:
            await connection.close(CLOSE_TIMEOUT)
        if reply.get("type") != "ack":
            raise RuntimeError(f"{self.target.entity}.create failed: {reply}")
        return {"id": reply["data"]["id"]}

    async def cmd_begin(self, exclude_stalled: bool = False) -> Frame:
        # The connections live until the run ends: keep the collector from walking them
        # mid-phase, where its pauses would count as the server's latency.
        gc.collect()
        gc.freeze()
        # Every listener that connected counts, open or not, but those evicted after they
        # stalled: a server that drops a healthy client must show it as deliveries lost.
        excluded = self.stalled.index if exclude_stalled and self.stalled is not None else None
        skipped = self.evicted | {excluded}
        counted = sum(connection.index not in skipped for connection in self.listeners)
        self.phase = Phase(excluded, counted)
        return {"connected": len(self.listeners), "evicted": len(self.evicted), "counted": counted}

    async def cmd_publish(
        self, run: str, count: int, rate: float | None, ack_within: float
    ) -> Frame:
        """Send `count` messages, `rate` a second (None: all at once); wait for their acks."""
        assert self.target is not None
        assert self.publisher is not None
        target, publisher = self.target, self.publisher
        loop = asyncio.get_running_loop()
        sent: dict[str, float] = {}
        waiters: dict[str, asyncio.Future[Frame]] = {}
        began = time.monotonic()
        for number in range(count):
            if rate:
                delay = began + number / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            request_id = f"{run}-{number}"
            if target.rooms:
                data: Frame = {"room": target.room, "payload": {"k": request_id}}
                frame = {"type": "room.publish", "id": request_id, "data": data}
            else:
                frame = {"type": f"{target.entity}.create", "id": request_id, "data": target.sample}
            waiters[request_id] = self.pending[request_id] = loop.create_future()
            text = json.dumps(frame, separators=(",", ":")).encode()
            sent[request_id] = time.monotonic()
            publisher.send_text(text)
        done, _ = await asyncio.wait(waiters.values(), timeout=ack_within)
        send_times: dict[str, float] = {}
        errors: list[str] = []
        for request_id, waiter in waiters.items():
            self.pending.pop(request_id, None)
            if waiter not in done:
                errors.append(f"{request_id}: no reply")
                continue
            reply = waiter.result()
            if reply.get("type") != "ack":
                errors.append(f"{request_id}: {reply.get('data')}")
            elif target.rooms:
                send_times[request_id] = sent[request_id]
            else:
                send_times[reply["data"]["id"]] = sent[request_id]
        return {
            "send_times": send_times,
            "errors": len(errors),
            "error_sample": errors[:3],
            "first_send": min(sent.values(), default=began),
            "last_send": max(sent.values(), default=began),
        }

    async def cmd_progress(self) -> Frame:
        phase = self.phase
        if phase is None:
            return {"received": 0, "excluded_received": 0, "last_arrival": 0.0}
        return {
            "received": phase.received,
            "excluded_received": phase.excluded_received,
            "last_arrival": phase.last_arrival,
        }

    async def cmd_collect(self, send_times: dict[str, float], latencies: bool = True) -> Frame:
        """Latencies (ms) of this phase's deliveries of the messages in `send_times`."""
        phase = self.phase
        assert phase is not None
        values: list[float] = []
        received = 0
        last = 0.0
        for key, sent in send_times.items():
            times = phase.arrivals.get(key, ())
            received += len(times)
            if times:
                last = max(last, max(times))
            if latencies:
                values.extend(round((arrived - sent) * 1000, 3) for arrived in times)
        return {
            "latencies_ms": values,
            "received": received,
            "expected": phase.listeners * len(send_times),
            "last_arrival": last,
            "cpu_seconds": time.process_time() - phase.cpu_started,
            "wall_seconds": time.monotonic() - phase.started,
        }

    async def cmd_stall(self, ping_bytes: int, pings_per_second: float) -> Frame:
        """Stop reading on the stalled client, and keep it asking for large `pong`s.

        A peer that only stops reading is evicted once the socket buffers (up to several MB
        on loopback, as TCP autotunes them) and the server's queue are full; its own pings
        fill them within seconds, so that a short run shows what a long stall would.
        """
        if not self.stallers:
            raise RuntimeError("no client left to stall on this generator")
        stalled = self.stalled = self.stallers.pop(0)
        stalled.pause_reading()
        pad = "x" * ping_bytes

        async def ping() -> None:
            number = 0
            while stalled.is_open:
                if not pushed_back(stalled):
                    number += 1
                    frame = {"type": "ping", "id": f"stall-{number}", "data": {"pad": pad}}
                    stalled.send_json(frame)
                    self.pinged_at = time.monotonic()
                await asyncio.sleep(1 / pings_per_second)

        self.pinger = asyncio.get_running_loop().create_task(ping())
        return {"index": stalled.index}

    async def cmd_unstall(self, wait_seconds: float) -> Frame:
        """Read again once the server has stopped reading the stalled client, then learn what
        it did: closed the client (1013 is an eviction), or answered a last ping, after all it
        had sent before. Each wait ends after `wait_seconds` at most.

        Reading again too early would drain what the server holds for the client before it
        had to decide. A server that merely lags (a loaded machine) soon reads again, and the
        pinger tops the pings up: only STALL_QUIET seconds without a ping mean it has stopped.
        """
        stalled = self.stalled
        phase = self.phase
        assert stalled is not None
        assert phase is not None

        def ignored() -> bool:
            quiet = time.monotonic() - self.pinged_at >= STALL_QUIET
            return quiet and pushed_back(stalled)

        await wait_until(lambda: not stalled.is_open or ignored(), wait_seconds)
        if self.pinger is not None:
            self.pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.pinger
            self.pinger = None
        stalled.resume_reading()
        last = asyncio.ensure_future(self.request(stalled, "ping", {}, wait_seconds))
        # The server's close frame tells its code; the TCP connection may end much later.
        ended = stalled.closed.done
        await wait_until(
            lambda: stalled.close_code is not None or ended() or last.done(), wait_seconds
        )
        last.cancel()
        with contextlib.suppress(asyncio.CancelledError, TimeoutError):
            await last
        code = stalled.close_code or (stalled.closed.result() if ended() else None)
        if stalled.close_code is not None:
            stalled.abort()  # closed: the pings it has yet to send would never be read
        if code == EVICTED:
            self.evicted.add(stalled.index)
        self.stalled = None
        return {"close_code": code, "evicted": code == EVICTED, "received": phase.excluded_received}

    async def cmd_round_trips(
        self, clients: int, transport: str, operation: str, seconds: float, entity_id: str
    ) -> Frame:
        """`clients` concurrent callers doing one `operation` after another for `seconds`."""
        assert self.target is not None
        target = self.target
        latencies: list[float] = []
        errors: list[str] = []
        body = json.dumps(target.sample).encode()
        stop_at = 0.0

        async def over_websocket(number: int) -> None:
            connection = await self.open_client(-1 - number, join=False)
            kind = f"{target.entity}.{operation}"
            data = target.sample if operation == "create" else {"id": entity_id}
            try:
                while time.monotonic() < stop_at:
                    began = time.monotonic()
                    reply = await self.request(connection, kind, data)
                    latencies.append(round((time.monotonic() - began) * 1000, 3))
                    if reply.get("type") != "ack":
                        errors.append(str(reply.get("data")))
            finally:
                await connection.close(CLOSE_TIMEOUT)

        async def over_http(number: int) -> None:
            connection = await HttpConnection.open(target.http_port)
            headers = target.headers(-1 - number)
            method, path, content, success = (
                ("POST", target.collection, body, 201)
                if operation == "create"
                else ("GET", f"{target.collection}/{entity_id}", None, 200)
            )
            try:
                while time.monotonic() < stop_at:
                    began = time.monotonic()
                    status, answer = await connection.request(method, path, headers, content)
                    latencies.append(round((time.monotonic() - began) * 1000, 3))
                    if status != success:
                        errors.append(f"HTTP {status}: {answer[:200]!r}")
            finally:
                await connection.close()

        run = over_websocket if transport == "ws" else over_http
        cpu_started = time.process_time()
        began = time.monotonic()
        stop_at = began + seconds
        await asyncio.gather(*(run(number) for number in range(clients)))
        return {
            "latencies_ms": latencies,
            "errors": len(errors),
            "error_sample": errors[:3],
            "wall_seconds": time.monotonic() - began,
            "cpu_seconds": time.process_time() - cpu_started,
        }

    async def cmd_disconnect(self) -> Frame:
        """Close every listener (and the publisher), a batch at a time."""
        connections = [c for c in self.listeners if not c.closed.done()]
        if self.publisher is not None:
            connections.append(self.publisher)
        for start in range(0, len(connections), 500):
            batch = connections[start : start + 500]
            await asyncio.gather(*(c.close(CLOSE_TIMEOUT) for c in batch))
        self.listeners = []
        self.publisher = None
        self.stalled = None
        self.stallers = []
        self.evicted = set()
        self.phase = None
        return {"closed": len(connections)}


async def serve() -> None:
    raise_fd_limit()
    generator = Generator()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 26)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        command = json.loads(line)
        operation = command.pop("op")
        if operation == "exit":
            break
        try:
            result = await getattr(generator, f"cmd_{operation}")(**command)
            answer: Frame = {"ok": True, "result": result}
        except Exception as error:  # reported to the orchestrator, which stops the run
            answer = {"ok": False, "error": f"{operation}: {type(error).__name__}: {error}"}
        sys.stdout.write(json.dumps(answer, separators=(",", ":")) + "\n")
        sys.stdout.flush()
    await generator.cmd_disconnect()


def main() -> None:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()

"""The backplane through Redis: PUB/SUB carries messages between instances.

One connection listens to every channel this instance hosts, another sends commands. Each
second the instance publishes to a channel of its own and expects to hear it back: a listener
that went deaf without an error (a full output buffer on the server, a silent network) shows
up as a missing echo, and the listener connects again. The same tick renews a key that says
the instance lives; presence entries of an instance whose key expired are ignored.

Messages on Redis are JSON, never pickle: `{"origin": instance, "frame": the frame}`.
"""

import asyncio
import contextlib
import json
import logging
import random
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from ..usecase.backplane import Backplane, Receive
from .opening import BackplaneUnavailableError, redacted

log = logging.getLogger(__name__)

TICK = 1.0  # seconds between echoes and renewals of the instance's key
DEAF_AFTER = 3.0  # seconds without an echo before the listener is thought deaf
INSTANCE_TTL = 15  # seconds an instance that stopped renewing its key still counts as alive
SUBSCRIBE_WAIT = 2.0  # seconds a join waits for Redis to confirm a subscription
BACKOFF = (0.1, 5.0)  # reconnection delay: first, longest


class RedisBackplane(Backplane):
    def __init__(self, url: str, namespace: str) -> None:
        self.instance = uuid.uuid4().hex[:16]
        self._namespace = namespace
        # No hidden retries: the listener and the tick decide when to connect again.
        self.redis = Redis.from_url(
            url,
            retry=Retry(NoBackoff(), 0),
            socket_connect_timeout=2,
            socket_timeout=5,
            decode_responses=True,
        )
        self._receivers: dict[str, Receive] = {}  # by Redis channel: what this instance hosts
        self._confirmations: dict[str, deque[asyncio.Future[None]]] = {}
        self._outbox: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._pubsub: PubSub | None = None
        self._echo = self.key("echo", self.instance)
        self._heard_at = 0.0
        self._problem: str | None = "not connected to Redis yet"
        self._on_recovery: list[Callable[[], Awaitable[None]]] = []
        self._tasks: list[asyncio.Task[None]] = []

    def key(self, *parts: str) -> str:
        """A Redis key or channel of this service: services may share one Redis."""
        return ":".join((self._namespace, *parts))

    def instance_key(self, instance: str) -> str:
        return self.key("instance", instance)

    def on_recovery(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run `callback` each time Redis is reachable again (it may have lost our keys)."""
        self._on_recovery.append(callback)

    @property
    def problem(self) -> str | None:
        return self._problem

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._heard_at = loop.time()
        for work in (self._listen, self._send, self._tick):
            self._tasks.append(asyncio.create_task(work()))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # Gone at once from every member list; if Redis is away, the key expires instead.
        with contextlib.suppress(RedisError):
            await self.redis.delete(self.instance_key(self.instance))
        await self.redis.aclose()

    async def subscribe(self, channel: str, receive: Receive) -> None:
        name = self.key(channel)
        if name in self._receivers:
            return
        self._receivers[name] = receive
        confirmed = asyncio.get_running_loop().create_future()
        self._confirmations.setdefault(name, deque()).append(confirmed)
        self._outbox.put_nowait(("SUBSCRIBE", name))
        try:
            # Degraded, a join goes on without it: the listener subscribes once Redis is back.
            await asyncio.wait_for(asyncio.shield(confirmed), SUBSCRIBE_WAIT)
        except TimeoutError:
            log.warning("subscribing to %s: no answer from Redis yet", name)

    def unsubscribe(self, channel: str) -> None:
        name = self.key(channel)
        if self._receivers.pop(name, None) is not None:
            # A confirmation still awaited no longer matters; while degraded it never comes.
            for confirmed in self._confirmations.pop(name, ()):
                if not confirmed.done():
                    confirmed.set_result(None)
            self._outbox.put_nowait(("UNSUBSCRIBE", name))

    async def publish(self, channel: str, message: str) -> None:
        payload = json.dumps({"origin": self.instance, "frame": message})
        try:
            await self.redis.publish(self.key(channel), payload)
        except RedisError as error:
            # This instance's members have it already; the others miss it while Redis is away.
            self._degrade(f"cannot reach Redis: {error}")

    async def _listen(self) -> None:
        delay = BACKOFF[0]
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(self._echo, *self._receivers)
                self._pubsub = pubsub
                self._heard_at = asyncio.get_running_loop().time()
                delay = BACKOFF[0]
                while True:
                    message = await pubsub.get_message(timeout=None)
                    if message is not None:
                        self._on_message(message)
            except Exception as error:  # whatever broke the connection, connect again
                self._degrade(f"cannot reach Redis: {error}")
            finally:
                self._pubsub = None
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(random.uniform(delay / 2, delay))  # noqa: S311 (jitter)
            delay = min(delay * 2, BACKOFF[1])

    def _on_message(self, message: dict[str, Any]) -> None:
        channel = message["channel"]
        if message["type"] == "subscribe":
            waiting = self._confirmations.get(channel)
            if waiting:
                future = waiting.popleft()
                if not future.done():
                    future.set_result(None)
                if not waiting:
                    del self._confirmations[channel]
        elif message["type"] == "message":
            if channel == self._echo:
                self._heard_at = asyncio.get_running_loop().time()
                return
            receive = self._receivers.get(channel)
            if receive is None:
                return
            try:
                payload = json.loads(message["data"])
                origin, frame = payload["origin"], payload["frame"]
            except (ValueError, TypeError, KeyError):
                log.warning("ignored a message on %s that is not ours", channel)
                return
            if origin != self.instance:
                receive(frame)

    async def _send(self) -> None:
        """Subscriptions change in the order they were asked for, on the listening connection.
        Without one, nothing is lost: the listener subscribes to what is hosted when it is back."""
        while True:
            command, channel = await self._outbox.get()
            pubsub = self._pubsub
            if pubsub is None:
                continue
            try:
                if command == "SUBSCRIBE":
                    await pubsub.subscribe(channel)
                else:
                    await pubsub.unsubscribe(channel)
            except (RedisError, OSError) as error:
                self._degrade(f"cannot reach Redis: {error}")

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    pipe.set(self.instance_key(self.instance), "1", ex=INSTANCE_TTL)
                    pipe.publish(self._echo, "")
                    await pipe.execute()
            except RedisError as error:
                self._degrade(f"cannot reach Redis: {error}")
            else:
                if loop.time() - self._heard_at > DEAF_AFTER + TICK:
                    self._degrade("Redis does not deliver this instance's messages")
                    if self._pubsub is not None:
                        # The listener connects again.
                        await self._pubsub.aclose()  # type: ignore[no-untyped-call]
                elif self._problem is not None and self._pubsub is not None:
                    # Heard again on a listening connection: Redis is back.
                    await self._recover()
            await asyncio.sleep(TICK)

    async def _recover(self) -> None:
        for callback in self._on_recovery:
            await callback()
        self._problem = None
        log.info("Redis reachable", extra={"event": "backplane_up"})

    def _degrade(self, problem: str) -> None:
        if self._problem is None:
            log.warning("%s", problem, extra={"event": "backplane_down"})
        self._problem = problem


def check(url: str) -> None:
    """Whether Redis answers at `url`, before the service listens: BackplaneUnavailableError
    (with the password hidden) when it does not."""
    from redis import Redis as BlockingRedis  # the start-up runs before any event loop

    client = BlockingRedis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
    try:
        client.ping()
    except RedisError as error:
        raise BackplaneUnavailableError(
            f"BACKPLANE_URL {redacted(url)}: cannot reach Redis ({str(error).rstrip('.')}); "
            "start it, or leave BACKPLANE_URL empty to run a single instance"
        ) from None
    finally:
        client.close()

"""Idempotency: the replies each subject was sent, so that a re-sent request is not run twice."""

import asyncio
import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from ..errors import ErrorCode, ProtocolError
from .protocol import Envelope

Entry = tuple[float, str, asyncio.Future[str]]  # expiry, digest of the request, reply


def digest(envelope: Envelope) -> str:
    """What a request asked (its type and data), in 64 characters: a re-send must match it."""
    asked = json.dumps([envelope.type, envelope.data], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(asked.encode()).hexdigest()


def reused(request_id: str) -> ProtocolError:
    return ProtocolError(
        ErrorCode.CONFLICT,
        f"the id {request_id!r} was already used for another request; use a new id",
    )


class ReplyCache:
    """Remembers, per subject, the reply to each request id for `ttl` seconds.

    A re-send whose original is still running waits for it rather than running again; a
    request that re-uses an id with another type or data is refused with `conflict`.
    At most `per_subject` replies are kept per subject; the oldest go first. `clock` reads
    seconds from any fixed origin (tests pass one they can move).
    """

    def __init__(
        self,
        ttl: float = 300.0,
        per_subject: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._per_subject = per_subject
        self._clock = clock
        self._subjects: dict[str, OrderedDict[str, Entry]] = {}
        self._calls = 0

    async def reply(
        self,
        subject: str,
        request_id: str,
        run: Callable[[], Awaitable[str]],
        digest: str = "",
    ) -> str:
        now = self._clock()
        replies = self._subjects.setdefault(subject, OrderedDict())
        self._forget_expired(replies, now)
        known = replies.get(request_id)
        if known is not None:
            if known[1] != digest:
                raise reused(request_id)
            return await asyncio.shield(known[2])
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        replies[request_id] = (now + self._ttl, digest, future)
        while len(replies) > self._per_subject:
            replies.popitem(last=False)
        self._calls += 1
        if self._calls % 1000 == 0:
            self._forget_idle_subjects(now)
        try:
            future.set_result(await run())
        except BaseException as error:
            replies.pop(request_id, None)
            future.set_exception(error)
            future.exception()  # marks it retrieved when nobody else waits
            raise
        return future.result()

    def forget(self, subject: str, request_id: str) -> None:
        """Leave the reply of the request now running unremembered: it reports a failure
        that a retry may not meet, so a re-send runs again instead of failing the same way.

        Re-sends already waiting for it still get that reply; a finished request is kept.
        """
        replies = self._subjects.get(subject)
        if replies is None:
            return
        known = replies.get(request_id)
        if known is not None and not known[2].done():
            del replies[request_id]

    def _forget_expired(self, replies: OrderedDict[str, Entry], now: float) -> None:
        while replies:
            request_id, (expires, _, future) = next(iter(replies.items()))
            if expires > now or not future.done():
                return
            del replies[request_id]

    def _forget_idle_subjects(self, now: float) -> None:
        for subject, replies in list(self._subjects.items()):
            self._forget_expired(replies, now)
            if not replies:
                del self._subjects[subject]

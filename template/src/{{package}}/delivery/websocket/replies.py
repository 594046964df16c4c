"""Idempotency: the replies each subject was sent, so that a re-sent request is not run twice."""

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable


class ReplyCache:
    """Remembers, per subject, the reply to each request id for `ttl` seconds.

    A re-send whose original is still running waits for it rather than running again.
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
        self._subjects: dict[str, OrderedDict[str, tuple[float, asyncio.Future[str]]]] = {}
        self._calls = 0

    async def reply(self, subject: str, request_id: str, run: Callable[[], Awaitable[str]]) -> str:
        now = self._clock()
        replies = self._subjects.setdefault(subject, OrderedDict())
        self._forget_expired(replies, now)
        known = replies.get(request_id)
        if known is not None:
            return await asyncio.shield(known[1])
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        replies[request_id] = (now + self._ttl, future)
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
        if known is not None and not known[1].done():
            del replies[request_id]

    def _forget_expired(
        self, replies: OrderedDict[str, tuple[float, asyncio.Future[str]]], now: float
    ) -> None:
        while replies:
            request_id, (expires, future) = next(iter(replies.items()))
            if expires > now or not future.done():
                return
            del replies[request_id]

    def _forget_idle_subjects(self, now: float) -> None:
        for subject, replies in list(self._subjects.items()):
            self._forget_expired(replies, now)
            if not replies:
                del self._subjects[subject]

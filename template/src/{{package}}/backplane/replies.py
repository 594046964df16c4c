"""Replies shared through Redis, kept as long as a ReplyCache keeps them (five minutes)."""

import json

from redis.exceptions import RedisError

from ..usecase.replies import Remembered, SharedReplies
from .redis import RedisBackplane

KEEP = 300  # seconds


class RedisReplies(SharedReplies):
    """Without Redis, nothing is recalled (the request runs) and nothing kept."""

    def __init__(self, backplane: RedisBackplane) -> None:
        self._backplane = backplane

    def _key(self, subject: str, request_id: str) -> str:
        # The subject's length first: "a:b" + "c" and "a" + "b:c" must not meet.
        return self._backplane.key("reply", f"{len(subject)}", subject, request_id)

    async def recall(self, subject: str, request_id: str) -> Remembered | None:
        try:
            found = await self._backplane.redis.get(self._key(subject, request_id))
        except RedisError:
            return None
        if found is None:
            return None
        kept = json.loads(found)
        return Remembered(kept["digest"], kept["reply"])

    async def keep(self, subject: str, request_id: str, remembered: Remembered) -> None:
        value = json.dumps({"digest": remembered.digest, "reply": remembered.reply})
        try:
            await self._backplane.redis.set(self._key(subject, request_id), value, ex=KEEP)
        except RedisError:
            return  # a re-send elsewhere would run again: the backplane is reported degraded

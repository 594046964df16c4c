"""The memory of replies that every instance shares, for requests that are not writes.

A re-sent `room.publish` that reaches another instance (the client reconnected elsewhere) must
get the first reply, not publish twice. Writes keep theirs in the database instead (receipts.py);
reads may simply run again.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Remembered:
    digest: str  # what the request asked, to tell a re-send from an id used again
    reply: str  # the reply frame, as sent


class SharedReplies(ABC):
    @abstractmethod
    async def recall(self, subject: str, request_id: str) -> Remembered | None: ...

    @abstractmethod
    async def keep(self, subject: str, request_id: str, remembered: Remembered) -> None: ...

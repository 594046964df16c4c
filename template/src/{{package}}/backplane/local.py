"""One instance alone (BACKPLANE_URL empty): there are no other instances to reach."""

from ..usecase.backplane import Backplane, Receive
from ..usecase.replies import Remembered, SharedReplies


class LocalBackplane(Backplane):
    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def subscribe(self, channel: str, receive: Receive) -> None:
        return None

    def unsubscribe(self, channel: str) -> None:
        return None

    async def publish(self, channel: str, message: str) -> None:
        return None


class LocalReplies(SharedReplies):
    """One instance alone: its ReplyCache remembers every reply already."""

    async def recall(self, subject: str, request_id: str) -> Remembered | None:
        return None

    async def keep(self, subject: str, request_id: str, remembered: Remembered) -> None:
        return None

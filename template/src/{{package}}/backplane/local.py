"""One instance alone (BACKPLANE_URL empty): there are no other instances to reach."""

from ..usecase.backplane import Backplane, Receive


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

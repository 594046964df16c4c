"""The hub's bookkeeping, with real Clients on fake sockets."""

from tests.unit.fakes import connected
from tests.unit.service_classes import Client, Hub


async def test_counters_follow_connections_and_evictions() -> None:
    hub = Hub()
    left: list[Client] = []
    hub.on_unregister(left.append)
    (first, _), (second, second_socket) = connected(hub, 2)

    hub.unregister(first)
    hub.unregister(first)  # a second time changes nothing
    second_socket.stall()
    second.deliver("x")
    second.evict()

    assert len(hub) == 0
    assert left == [first, second]
    assert (hub.stats.connects, hub.stats.disconnects, hub.stats.evictions) == (2, 2, 1)

"""The Redis backplane's bookkeeping while Redis does not answer (no server needed)."""

import asyncio

import pytest

from tests.unit.service_classes import RedisBackplane, redis_backplane_module

UNREACHABLE = "redis://127.0.0.1:9/0"  # the discard port: nothing answers there


async def test_a_room_left_before_redis_confirmed_it_leaves_nothing_waiting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(redis_backplane_module, "SUBSCRIBE_WAIT", 0.01)
    backplane = RedisBackplane(UNREACHABLE, "service")

    for _ in range(3):
        await backplane.subscribe("room:lobby", lambda frame: None)
        backplane.unsubscribe("room:lobby")

    assert backplane._confirmations == {}
    await backplane.redis.aclose()


async def test_a_join_waits_for_redis_at_most_a_moment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(redis_backplane_module, "SUBSCRIBE_WAIT", 0.05)
    backplane = RedisBackplane(UNREACHABLE, "service")

    await asyncio.wait_for(backplane.subscribe("room:lobby", lambda frame: None), 1)

    assert backplane.problem == "not connected to Redis yet"
    await backplane.redis.aclose()

"""The reply cache on its own: which re-sent requests get the first reply, for whom, how long."""

import asyncio

import pytest

from tests.unit.fakes import WAIT, eventually
from tests.unit.service_classes import Anonymous, ErrorCode, ProtocolError, ReplyCache

FIVE_MINUTES = 300.0  # how long the protocol says a reply is remembered, at least


class Clock:
    """Seconds that pass only when the test says so."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def ack(run: int) -> str:
    return f'{{"type":"ack","data":{{"run":{run}}}}}'


class UseCase:
    """Counts its runs; each run's reply says which run it was, so replies tell runs apart.

    While `hold()` is in force a run waits for `release()`, as one does on a busy database.
    """

    def __init__(self) -> None:
        self.runs = 0
        self._free = asyncio.Event()
        self._free.set()

    def hold(self) -> None:
        self._free.clear()

    def release(self) -> None:
        self._free.set()

    async def __call__(self) -> str:
        self.runs += 1
        run = self.runs
        await self._free.wait()
        return ack(run)


class BrokenUseCase:
    """Fails with a bug on its first run, then works."""

    def __init__(self) -> None:
        self.runs = 0

    async def __call__(self) -> str:
        self.runs += 1
        if self.runs == 1:
            raise RuntimeError("a bug in the first run")
        return '{"type":"ack","data":{}}'


async def test_a_resent_request_gets_the_first_reply_and_runs_once() -> None:
    cache, use_case = ReplyCache(), UseCase()

    first = await cache.reply("alice", "c-17", use_case)
    again = await cache.reply("alice", "c-17", use_case)

    assert (first, again) == (ack(1), ack(1))
    assert use_case.runs == 1


async def test_each_subject_has_its_own_replies() -> None:
    cache, use_case = ReplyCache(), UseCase()

    alices = await cache.reply("alice", "c-17", use_case)
    bobs = await cache.reply("bob", "c-17", use_case)

    assert (alices, bobs) == (ack(1), ack(2))
    assert await cache.reply("alice", "c-17", use_case) == ack(1)
    assert await cache.reply("bob", "c-17", use_case) == ack(2)
    assert use_case.runs == 2


async def test_unauthenticated_callers_share_one_subject() -> None:
    """Without auth every connection is the same caller: a re-send from another connection
    (after a reconnect, say) is answered from the first."""
    cache, use_case, nobody = ReplyCache(), UseCase(), Anonymous()
    first_connection = nobody.authenticate(None).subject
    second_connection = nobody.authenticate("a token nobody checks").subject

    first = await cache.reply(first_connection, "c-17", use_case)
    again = await cache.reply(second_connection, "c-17", use_case)

    assert again == first
    assert use_case.runs == 1


async def test_a_reply_is_remembered_for_five_minutes_then_forgotten() -> None:
    clock, use_case = Clock(), UseCase()
    cache = ReplyCache(clock=clock)
    await cache.reply("alice", "c-17", use_case)

    clock.now += FIVE_MINUTES - 0.1
    just_before = await cache.reply("alice", "c-17", use_case)
    clock.now += 0.2
    just_after = await cache.reply("alice", "c-17", use_case)

    assert just_before == ack(1)  # re-sending does not make a reply live longer...
    assert just_after == ack(2)  # ...so five minutes after the first, it runs again
    assert use_case.runs == 2


async def test_beyond_the_cap_the_oldest_replies_are_forgotten_first() -> None:
    cache, use_case = ReplyCache(per_subject=3), UseCase()
    await cache.reply("bob", "c-1", use_case)  # run 1: another subject, another cap
    for n in range(1, 5):  # runs 2 to 5 for c-1 to c-4: one more than the cap
        await cache.reply("alice", f"c-{n}", use_case)

    kept = [await cache.reply("alice", f"c-{n}", use_case) for n in (4, 3, 2)]
    bobs = await cache.reply("bob", "c-1", use_case)
    oldest = await cache.reply("alice", "c-1", use_case)

    assert kept == [ack(5), ack(4), ack(3)]
    assert bobs == ack(1)
    assert oldest == ack(6)  # forgotten, so it ran again


async def test_ten_thousand_replies_are_kept_per_subject() -> None:
    cache, use_case = ReplyCache(), UseCase()
    for n in range(10_000):
        await cache.reply("alice", f"c-{n}", use_case)
    assert await cache.reply("alice", "c-0", use_case) == ack(1)

    await cache.reply("alice", "c-10000", use_case)

    assert await cache.reply("alice", "c-1", use_case) == ack(2)
    assert await cache.reply("alice", "c-0", use_case) == ack(10_002)


async def test_a_resend_while_the_first_still_runs_waits_for_its_reply() -> None:
    cache, use_case = ReplyCache(), UseCase()
    use_case.hold()
    first = asyncio.create_task(cache.reply("alice", "c-17", use_case))
    await eventually(lambda: use_case.runs == 1)
    again = asyncio.create_task(cache.reply("alice", "c-17", use_case))
    await asyncio.sleep(0)  # the re-send reaches the cache while the first is held
    assert not again.done()

    use_case.release()
    replies = await asyncio.wait_for(asyncio.gather(first, again), WAIT)

    assert list(replies) == [ack(1), ack(1)]
    assert use_case.runs == 1


async def test_a_request_that_raises_is_not_remembered() -> None:
    cache, use_case = ReplyCache(), BrokenUseCase()

    with pytest.raises(RuntimeError, match="a bug in the first run"):
        await cache.reply("alice", "c-17", use_case)
    again = await cache.reply("alice", "c-17", use_case)

    assert again == '{"type":"ack","data":{}}'
    assert use_case.runs == 2


async def test_a_resend_waiting_on_a_request_that_raises_fails_alike_then_may_retry() -> None:
    cache = ReplyCache()
    failing = asyncio.Event()

    async def fails_when_told() -> str:
        await failing.wait()
        raise RuntimeError("the database went away")

    later = UseCase()
    first = asyncio.create_task(cache.reply("alice", "c-17", fails_when_told))
    await asyncio.sleep(0)
    waiting = asyncio.create_task(cache.reply("alice", "c-17", later))
    await asyncio.sleep(0)
    failing.set()
    outcomes = await asyncio.wait_for(asyncio.gather(first, waiting, return_exceptions=True), WAIT)
    retry = await cache.reply("alice", "c-17", later)

    assert [type(outcome) for outcome in outcomes] == [RuntimeError, RuntimeError]
    assert [str(outcome) for outcome in outcomes] == ["the database went away"] * 2
    assert retry == ack(1)  # the waiting re-send did not run it; the retry did
    assert later.runs == 1


async def test_a_reply_forgotten_while_running_is_sent_but_a_resend_runs_again() -> None:
    """What the endpoint does with an internal_error: the client is told, and may retry."""
    cache = ReplyCache()
    runs: list[str] = []

    async def fails_unexpectedly() -> str:
        runs.append("failed")
        cache.forget("alice", "c-17")
        return '{"type":"error","data":{"code":"internal_error"}}'

    async def works() -> str:
        runs.append("worked")
        return '{"type":"ack","data":{}}'

    first = await cache.reply("alice", "c-17", fails_unexpectedly)
    again = await cache.reply("alice", "c-17", works)
    once_more = await cache.reply("alice", "c-17", fails_unexpectedly)

    assert first == '{"type":"error","data":{"code":"internal_error"}}'
    assert again == once_more == '{"type":"ack","data":{}}'
    assert runs == ["failed", "worked"]


async def test_forgetting_leaves_a_finished_reply_and_other_subjects_alone() -> None:
    """A request that is not remembered (room.join) may reuse the id of one that was: its
    failure must not cost the other its reply."""
    cache, use_case = ReplyCache(), UseCase()
    await cache.reply("alice", "c-17", use_case)
    await cache.reply("bob", "c-18", use_case)

    cache.forget("alice", "c-17")
    cache.forget("bob", "c-17")
    cache.forget("carol", "c-17")

    assert await cache.reply("alice", "c-17", use_case) == ack(1)
    assert await cache.reply("bob", "c-18", use_case) == ack(2)
    assert use_case.runs == 2


async def test_an_id_used_again_for_another_request_is_refused_and_the_first_kept() -> None:
    cache, use_case = ReplyCache(), UseCase()
    first = await cache.reply("alice", "c-17", use_case, digest="create ada")

    with pytest.raises(ProtocolError) as refused:
        await cache.reply("alice", "c-17", use_case, digest="create bob")

    assert refused.value.code is ErrorCode.CONFLICT
    assert "already used for another request" in refused.value.message
    assert await cache.reply("alice", "c-17", use_case, digest="create ada") == first
    assert use_case.runs == 1

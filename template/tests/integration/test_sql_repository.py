"""The SQL repository on a real SQLite file and a real PostgreSQL server (conftest.py)."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from tests.samples import (
    DATETIME_FIELDS,
    FIELDS,
    MAX_TEXT,
    OPTIONAL_FIELDS,
    Database,
    Entity,
    EntityUpdate,
    FieldSpec,
    SqlRepository,
    changed_data,
    migrate,
    new_entity,
)
from tests.servers.postgres import PostgresServer

START = datetime(2026, 1, 1, tzinfo=UTC)
WAIT = 60.0  # seconds: bounds what would otherwise hang, on a loaded machine
BERLIN_SUMMER = timezone(timedelta(hours=2))


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url)
    await database.opened(migrate)
    yield database
    await database.close()


@pytest.fixture
def repository(database: Database) -> SqlRepository:
    return SqlRepository(database)


def stamped(n: int, **overrides: object) -> Entity:
    """Sample `n`, created `n` minutes after START."""
    moment = START + timedelta(minutes=n)
    return new_entity(n, created_at=moment, updated_at=moment, **overrides)


def changed(entity: Entity) -> Entity:
    """`entity` with the sample change applied and its version bumped."""
    changes = EntityUpdate.model_validate({"id": entity.id, **changed_data()}).changes()
    return replace(
        entity,
        **changes,
        version=entity.version + 1,
        updated_at=entity.updated_at + timedelta(seconds=1),
    )


def assert_utc(moment: datetime) -> None:
    assert moment.tzinfo is not None
    assert moment.utcoffset() == timedelta(0)


async def test_an_added_entity_comes_back_equal(repository: SqlRepository) -> None:
    entity = stamped(1)

    await repository.add(entity)

    assert await repository.get(entity.id) == entity


async def test_moments_come_back_as_the_same_instant_in_utc(repository: SqlRepository) -> None:
    local = datetime(2026, 7, 1, 14, 30, 15, 123456, tzinfo=BERLIN_SUMMER)
    moments = {field.name: local for field in DATETIME_FIELDS}
    entity = new_entity(2, created_at=local, updated_at=local, **moments)

    await repository.add(entity)
    found = await repository.get(entity.id)

    assert found is not None
    for name in ["created_at", "updated_at", *moments]:
        value = getattr(found, name)
        assert_utc(value)
        assert value == local
        assert value.hour == 12


def extreme(field: FieldSpec, high: bool) -> Any:
    """A value of `field` at one end of what the domain accepts."""
    if field.email:
        return "zoë.ñandú@例え.jp" if high else "a@b.c"
    match field.kind:
        case "str":
            return "🎉" * MAX_TEXT if high else "Zoë «Ñandú» — 日本語 'x' \"y\" \\ %s"
        case "int":
            return 2**63 - 1 if high else -(2**63)
        case "float":
            return 1.7976931348623157e308 if high else -5e-324
        case "bool":
            return high
        case "datetime":
            return datetime.max.replace(tzinfo=UTC) if high else datetime.min.replace(tzinfo=UTC)


@pytest.mark.parametrize("high", [False, True], ids=["lowest", "highest"])
async def test_values_at_the_ends_of_their_range_come_back_unchanged(
    repository: SqlRepository, high: bool
) -> None:
    entity = stamped(1, **{field.name: extreme(field, high) for field in FIELDS})

    await repository.add(entity)

    assert await repository.get(entity.id) == entity


async def test_operations_sent_together_all_land(repository: SqlRepository) -> None:
    # They reach the database thread while it is busy, and run there as batches.
    entities = [stamped(n) for n in range(50)]

    await asyncio.gather(*(repository.add(entity) for entity in entities))
    found = await asyncio.gather(*(repository.get(entity.id) for entity in entities))

    assert found == entities
    assert await repository.list(100, 0) == (entities, 50)


async def test_a_failing_operation_fails_alone(repository: SqlRepository) -> None:
    existing = stamped(0)
    await repository.add(existing)
    fresh = [stamped(n) for n in range(1, 6)]

    outcomes = await asyncio.gather(
        *(repository.add(entity) for entity in fresh[:3]),
        repository.add(existing),  # the same id again: the database refuses it
        *(repository.add(entity) for entity in fresh[3:]),
        return_exceptions=True,
    )

    assert [outcome is None for outcome in outcomes] == [True, True, True, False, True, True]
    assert isinstance(outcomes[3], IntegrityError)
    assert await repository.list(10, 0) == ([existing, *fresh], 6)


async def test_an_unknown_id_is_none(repository: SqlRepository) -> None:
    await repository.add(stamped(1))

    assert await repository.get("no-such-id") is None


@pytest.mark.skipif(not OPTIONAL_FIELDS, reason="the entity has no optional field")
async def test_optional_fields_may_be_empty(repository: SqlRepository) -> None:
    entity = stamped(1, **{field.name: None for field in OPTIONAL_FIELDS})

    await repository.add(entity)

    assert await repository.get(entity.id) == entity


async def test_list_pages_in_creation_order_with_the_total(repository: SqlRepository) -> None:
    entities = [stamped(n) for n in range(5)]
    for entity in reversed(entities):
        await repository.add(entity)

    assert await repository.list(2, 0) == (entities[0:2], 5)
    assert await repository.list(2, 2) == (entities[2:4], 5)
    assert await repository.list(2, 4) == (entities[4:5], 5)
    assert await repository.list(2, 6) == ([], 5)


async def test_list_of_an_empty_table(repository: SqlRepository) -> None:
    assert await repository.list(10, 0) == ([], 0)


async def test_replace_with_the_expected_version_stores_the_change(
    repository: SqlRepository,
) -> None:
    entity = stamped(1)
    await repository.add(entity)
    newer = changed(entity)

    assert await repository.replace(newer, expected_version=1)

    assert await repository.get(entity.id) == newer


async def test_replace_with_a_stale_version_changes_nothing(repository: SqlRepository) -> None:
    entity = stamped(1)
    await repository.add(entity)
    newer = changed(entity)
    assert await repository.replace(newer, expected_version=1)

    assert not await repository.replace(changed(newer), expected_version=1)

    assert await repository.get(entity.id) == newer


async def test_of_two_instances_replacing_the_same_version_at_once_exactly_one_wins(
    database_url: str,
) -> None:
    # Two service instances: two Database objects, each with its own connection and thread.
    first, second = Database(database_url), Database(database_url)
    await first.opened(migrate)
    await second.opened(migrate)
    try:
        ours, theirs = SqlRepository(first), SqlRepository(second)
        entities = [stamped(n) for n in range(20)]
        for entity in entities:
            await ours.add(entity)
        our_changes = [changed(entity) for entity in entities]
        # Theirs differs from ours in its time only, to tell which one is stored.
        their_changes = [
            replace(change, updated_at=change.updated_at + timedelta(seconds=1))
            for change in our_changes
        ]

        attempts = [
            repository.replace(change, expected_version=1)
            for our_change, their_change in zip(our_changes, their_changes, strict=True)
            for repository, change in [(ours, our_change), (theirs, their_change)]
        ]
        won = await asyncio.gather(*attempts)
        stored = await theirs.list(len(entities), 0)
    finally:
        await first.close()
        await second.close()

    we_won, they_won = won[0::2], won[1::2]
    assert [we != they for we, they in zip(we_won, they_won, strict=True)] == [True] * 20
    winners = [
        our_change if we else their_change
        for our_change, their_change, we in zip(our_changes, their_changes, we_won, strict=True)
    ]
    assert stored == (winners, 20)


async def test_replace_of_an_unknown_id_is_refused(repository: SqlRepository) -> None:
    assert not await repository.replace(changed(stamped(1)), expected_version=1)

    assert await repository.list(10, 0) == ([], 0)


async def test_remove_deletes_once(repository: SqlRepository) -> None:
    kept, removed = stamped(1), stamped(2)
    await repository.add(kept)
    await repository.add(removed)

    assert await repository.remove(removed.id)
    assert not await repository.remove(removed.id)

    assert await repository.get(removed.id) is None
    assert await repository.list(10, 0) == ([kept], 1)


async def test_data_survives_a_new_database_object_on_the_same_database(
    database_url: str,
) -> None:
    entities = [stamped(n) for n in range(3)]
    first = Database(database_url)
    await first.opened(migrate)
    for entity in entities:
        await SqlRepository(first).add(entity)
    await first.close()

    second = Database(database_url)
    try:
        await second.opened(migrate)  # harmless on an up-to-date schema
        found = await SqlRepository(second).list(10, 0)
    finally:
        await second.close()

    assert found == (entities, 3)
    for entity in found[0]:
        assert_utc(entity.created_at)
        assert_utc(entity.updated_at)


@pytest.mark.servers
async def test_operations_fail_while_the_server_is_down_and_work_once_it_is_back(
    postgres: PostgresServer,
) -> None:
    database = Database(postgres.create_database())
    await database.opened(migrate)
    repository = SqlRepository(database)
    kept, refused, later = stamped(1), [stamped(n) for n in range(2, 12)], stamped(12)
    await repository.add(kept)
    try:
        postgres.stop()  # what the connection had is gone, and no new one can be made

        with pytest.raises(OperationalError):
            await asyncio.wait_for(repository.get(kept.id), WAIT)
        outcomes = await asyncio.wait_for(
            asyncio.gather(*(repository.add(entity) for entity in refused), return_exceptions=True),
            WAIT,
        )
        assert all(isinstance(outcome, OperationalError) for outcome in outcomes), outcomes
    finally:
        postgres.start()
    try:
        await repository.add(later)
        found = await repository.list(10, 0)
    finally:
        await database.close()

    assert found == ([kept, later], 2)


async def test_operations_waiting_on_a_server_that_does_not_answer_fail_together() -> None:
    # Like a host behind a firewall that drops packets: connections open, nothing answers.
    callers: list[asyncio.StreamWriter] = []

    async def take(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        callers.append(writer)

    silent = await asyncio.start_server(take, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    url = f"postgresql+psycopg://ada:s3cret-pw@127.0.0.1:{port}/service?connect_timeout=2"
    database = Database(url)
    try:
        outcomes = await asyncio.wait_for(
            asyncio.gather(
                *(SqlRepository(database).get(f"e-{n:04d}") for n in range(6)),
                return_exceptions=True,
            ),
            WAIT,
        )
    finally:
        await database.close()
        silent.close()
        for caller in callers:
            caller.close()
        await silent.wait_closed()

    assert all(isinstance(outcome, OperationalError) for outcome in outcomes), outcomes
    # One attempt a batch: the first operation's, then one for all that came meanwhile,
    # rather than one each, which would keep the database thread waiting six times as long.
    assert 1 <= len(callers) <= 2


@pytest.mark.servers
async def test_a_refused_password_is_named_but_not_shown(postgres: PostgresServer) -> None:
    wrong = "Wr0ng-pw"
    url = postgres.create_database().replace(postgres.password, wrong)
    database = Database(url)

    with pytest.raises(Exception, match="DATABASE_URL") as refused:
        await database.opened(migrate)
    await database.close()

    # tests.samples does not name it: the class of the service's start-up refusals.
    assert type(refused.value).__name__ == "DatabaseUnavailableError"
    said = str(refused.value)
    assert said.startswith(
        f"cannot use the database at {url.replace(wrong, '***')} (DATABASE_URL): "
    )
    assert 'password authentication failed for user "tester"' in said
    assert wrong not in said
    assert postgres.password not in said
    assert len(said.splitlines()) == 2

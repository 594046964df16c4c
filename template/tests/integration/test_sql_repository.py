"""The SQL repository on a real SQLite file."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from tests.samples import (
    DATETIME_FIELDS,
    OPTIONAL_FIELDS,
    Database,
    Entity,
    EntityUpdate,
    SqlRepository,
    changed_data,
    new_entity,
)

START = datetime(2026, 1, 1, tzinfo=UTC)
BERLIN_SUMMER = timezone(timedelta(hours=2))


def database_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'data' / 'service.db'}"


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(database_url(tmp_path))
    await database.create_schema()
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


async def test_data_survives_a_new_database_on_the_same_file(tmp_path: Path) -> None:
    entities = [stamped(n) for n in range(3)]
    first = Database(database_url(tmp_path))
    await first.create_schema()
    for entity in entities:
        await SqlRepository(first).add(entity)
    await first.close()

    second = Database(database_url(tmp_path))
    try:
        await second.create_schema()  # harmless on an existing schema
        found = await SqlRepository(second).list(10, 0)
    finally:
        await second.close()

    assert found == (entities, 3)
    for entity in found[0]:
        assert_utc(entity.created_at)
        assert_utc(entity.updated_at)

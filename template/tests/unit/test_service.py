"""The use cases, on the in-memory repository and a publisher that records what it is told."""

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from tests.samples import (
    ENTITY,
    FIELDS,
    REQUIRED_FIELDS,
    TEXT_FIELDS,
    ConflictError,
    Entity,
    EntityCreate,
    EntityListQuery,
    EntityService,
    EntityUpdate,
    EntityView,
    Event,
    EventPublisher,
    FieldSpec,
    InvalidEntityError,
    MemoryRepository,
    NotFoundError,
    Receipt,
    Request,
    RequestAlreadyDoneError,
    changed_data,
    field_id,
    valid_data,
)

START = datetime(2026, 1, 1, tzinfo=UTC)


class RecordingPublisher(EventPublisher):
    """Keeps every published event, in order."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    async def publish(self, event: Event) -> None:
        self.events.append(event)


class TickingClock:
    """Each reading is one second later than the one before."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


class SequentialIds:
    def __init__(self) -> None:
        self.issued = 0

    def __call__(self) -> str:
        self.issued += 1
        return f"id-{self.issued:03d}"


class RacingRepository(MemoryRepository):
    """Someone else stores a new version just before each of our replaces."""

    async def replace(
        self, entity: Entity, expected_version: int, receipt: Receipt | None = None
    ) -> bool:
        current = await self.get(entity.id)
        assert current is not None
        rival = replace(current, version=current.version + 1)
        assert await super().replace(rival, current.version)
        return await super().replace(entity, expected_version, receipt)


@dataclass
class World:
    service: EntityService
    repository: MemoryRepository
    published: RecordingPublisher
    clock: TickingClock


def make_world(repository: MemoryRepository | None = None) -> World:
    repository = repository or MemoryRepository()
    published = RecordingPublisher()
    clock = TickingClock()
    service = EntityService(repository, published, clock=clock, new_id=SequentialIds())
    return World(service, repository, published, clock)


@pytest.fixture
def world() -> World:
    return make_world()


async def create(world: World, n: int = 0) -> Entity:
    return await world.service.create(EntityCreate.model_validate(valid_data(n)), "alice")


def update(entity: Entity, **changes: object) -> EntityUpdate:
    return EntityUpdate.model_validate({"id": entity.id, **changes})


async def test_create_stores_a_new_entity(world: World) -> None:
    entity = await create(world)

    assert entity.id == "id-001"
    assert entity.version == 1
    assert entity.created_by == "alice"
    assert entity.created_at == entity.updated_at == world.clock.now
    expected = EntityCreate.model_validate(valid_data()).model_dump()
    assert {field.name: getattr(entity, field.name) for field in FIELDS} == expected
    assert await world.repository.get(entity.id) == entity


async def test_create_publishes_the_created_entity(world: World) -> None:
    entity = await create(world)

    assert world.published.events == [Event(f"{ENTITY}.created", EntityView.of(entity))]
    data = world.published.events[0].data
    assert json.loads(json.dumps(data)) == data  # ready for the wire as it is
    assert data["id"] == entity.id


@pytest.mark.skipif(not TEXT_FIELDS, reason="the entity has no text field")
async def test_create_refuses_an_invalid_entity(world: World) -> None:
    command = EntityCreate.model_validate(valid_data() | {TEXT_FIELDS[0].name: " "})

    with pytest.raises(InvalidEntityError):
        await world.service.create(command, "alice")

    assert await world.repository.list(10, 0) == ([], 0)
    assert world.published.events == []


async def test_get_returns_the_stored_entity(world: World) -> None:
    entity = await create(world)

    assert await world.service.get(entity.id) == entity


async def test_get_of_an_unknown_id_is_not_found(world: World) -> None:
    with pytest.raises(NotFoundError):
        await world.service.get("no-such-id")


async def test_list_pages_in_creation_order(world: World) -> None:
    created = [await create(world, n) for n in range(5)]

    pages = [
        await world.service.list(EntityListQuery(limit=2, offset=offset)) for offset in (0, 2, 4, 6)
    ]

    assert pages == [
        (created[0:2], 5),
        (created[2:4], 5),
        (created[4:5], 5),
        ([], 5),
    ]


async def test_list_defaults_to_the_first_page(world: World) -> None:
    created = [await create(world, n) for n in range(3)]

    assert await world.service.list(EntityListQuery()) == (created, 3)


async def test_update_changes_fields_and_bumps_the_version(world: World) -> None:
    entity = await create(world)
    command = update(entity, **changed_data())

    updated = await world.service.update(command, "bob")

    changes = command.changes()
    assert {name: getattr(updated, name) for name in changes} == changes
    assert all(getattr(entity, name) != value for name, value in changes.items())
    untouched = [field.name for field in FIELDS if field.name not in changes]
    assert [getattr(updated, name) for name in untouched] == [
        getattr(entity, name) for name in untouched
    ]
    assert updated.version == 2
    assert updated.created_at == entity.created_at
    assert updated.updated_at == world.clock.now > entity.updated_at
    assert updated.created_by == "alice"
    assert await world.repository.get(entity.id) == updated


async def test_update_publishes_the_updated_entity(world: World) -> None:
    entity = await create(world)

    updated = await world.service.update(update(entity, **changed_data()), "bob")

    assert world.published.events[1:] == [Event(f"{ENTITY}.updated", EntityView.of(updated))]


async def test_update_with_the_current_version_succeeds(world: World) -> None:
    entity = await create(world)
    first = await world.service.update(update(entity, version=1, **changed_data()), "bob")

    second = await world.service.update(update(entity, version=2, **valid_data(1)), "bob")

    assert (first.version, second.version) == (2, 3)


async def test_update_with_a_stale_version_conflicts(world: World) -> None:
    entity = await create(world)
    updated = await world.service.update(update(entity, **changed_data()), "bob")

    with pytest.raises(ConflictError):
        await world.service.update(update(entity, version=1, **valid_data(1)), "carol")

    assert await world.repository.get(entity.id) == updated
    assert [event.type for event in world.published.events] == [
        f"{ENTITY}.created",
        f"{ENTITY}.updated",
    ]


async def test_update_that_loses_a_race_conflicts() -> None:
    world = make_world(RacingRepository())
    entity = await create(world)

    with pytest.raises(ConflictError):
        await world.service.update(update(entity, **changed_data()), "bob")

    assert [event.type for event in world.published.events] == [f"{ENTITY}.created"]


async def test_update_without_changes_keeps_the_entity(world: World) -> None:
    entity = await create(world)

    unchanged = await world.service.update(update(entity), "bob")

    assert unchanged == entity
    assert len(world.published.events) == 1


@pytest.mark.skipif(not TEXT_FIELDS, reason="the entity has no text field")
async def test_update_refuses_to_break_an_invariant(world: World) -> None:
    entity = await create(world)

    with pytest.raises(InvalidEntityError):
        await world.service.update(update(entity, **{TEXT_FIELDS[0].name: ""}), "bob")

    assert await world.repository.get(entity.id) == entity
    assert len(world.published.events) == 1


async def test_update_of_an_unknown_id_is_not_found(world: World) -> None:
    with pytest.raises(NotFoundError):
        await world.service.update(
            EntityUpdate.model_validate({"id": "no-such-id", **changed_data()}), "bob"
        )

    assert world.published.events == []


async def test_delete_removes_and_publishes_the_id(world: World) -> None:
    entity = await create(world)

    await world.service.delete(entity.id, "bob")

    assert await world.repository.get(entity.id) is None
    assert world.published.events[1:] == [Event(f"{ENTITY}.deleted", {"id": entity.id})]


async def test_delete_of_an_unknown_id_is_not_found(world: World) -> None:
    entity = await create(world)
    await world.service.delete(entity.id, "bob")

    with pytest.raises(NotFoundError):
        await world.service.delete(entity.id, "bob")

    assert len(world.published.events) == 2


FIRST_SEND = Request(subject="ada", id="c-17", digest="digest-of-the-create")


async def test_a_write_for_a_request_keeps_its_reply_as_a_receipt(world: World) -> None:
    command = EntityCreate.model_validate(valid_data())
    created = await world.service.create(command, "ada", FIRST_SEND)

    receipt = await world.repository.receipts.find("ada", "c-17")
    assert receipt == Receipt(FIRST_SEND, EntityView.of(created))


async def test_a_second_run_of_the_same_request_writes_nothing(world: World) -> None:
    await world.service.create(EntityCreate.model_validate(valid_data(1)), "ada", FIRST_SEND)

    with pytest.raises(RequestAlreadyDoneError):
        await world.service.create(EntityCreate.model_validate(valid_data(2)), "ada", FIRST_SEND)

    assert (await world.service.list(EntityListQuery()))[1] == 1
    assert len(world.published.events) == 1


async def test_update_and_delete_keep_their_replies_too(world: World) -> None:
    created = await world.service.create(EntityCreate.model_validate(valid_data()), "ada")
    renaming = Request("ada", "c-18", "digest-of-the-update")
    removing = Request("ada", "c-19", "digest-of-the-delete")

    changes = EntityUpdate.model_validate({"id": created.id, **changed_data()})
    updated = await world.service.update(changes, "ada", renaming)
    await world.service.delete(created.id, "ada", removing)

    assert await world.repository.receipts.find("ada", "c-18") == Receipt(
        renaming, EntityView.of(updated)
    )
    assert await world.repository.receipts.find("ada", "c-19") == Receipt(
        removing, {"id": created.id}
    )
    assert await world.repository.receipts.find("bob", "c-19") is None


@pytest.mark.parametrize("field", REQUIRED_FIELDS, ids=field_id)
def test_an_update_may_not_clear_a_required_field(field: FieldSpec) -> None:
    with pytest.raises(ValidationError, match="cannot be null"):
        EntityUpdate.model_validate({"id": "x", field.name: None})

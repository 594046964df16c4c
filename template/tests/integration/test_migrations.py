"""The migrations against the tables the code uses, on SQLite and PostgreSQL.

A table changed in repository/ without a revision fails the first test here, which says how
to write the missing revision.
"""

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection

from tests.samples import (
    PLURAL,
    Database,
    SqlRepository,
    metadata,
    migrate,
    new_entity,
    opening,
    schema,
)

# The revisions rendered with the project: what versions before migrations made at start-up.
RENDERED = "0002"
WRITE_IT = (
    "the tables in repository/ differ from what the migrations make: write the missing "
    'revision with `make migration MESSAGE="what changed"`, review it, then `make migrate`'
)


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = opening.engine(opening.normalized(database_url))
    yield engine
    engine.dispose()


def tables(connection: Connection) -> set[str]:
    return set(sa.inspect(connection).get_table_names()) - {"alembic_version"}


def downgrade(connection: Connection, to: str) -> None:
    command.downgrade(schema.alembic_config(connection), to)


def test_the_migrations_make_the_tables_the_code_uses(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        schema.upgrade(connection)
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)

    assert not differences, f"{WRITE_IT}. Differences: {differences}"


def test_an_empty_database_goes_down_to_nothing_and_up_again(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        schema.upgrade(connection)
        downgrade(connection, "base")
        assert tables(connection) == set()
        assert schema.current(connection) == set()

        schema.upgrade(connection)
        assert schema.current(connection) == schema.newest()
        assert PLURAL in tables(connection)


async def test_a_populated_database_keeps_its_rows_down_one_revision_and_up(
    database_url: str, engine: sa.Engine
) -> None:
    entities = [new_entity(n) for n in range(3)]
    database = Database(database_url)
    await database.opened(migrate)
    for entity in entities:
        await SqlRepository(database).add(entity)
    await database.close()

    with engine.begin() as connection:
        downgrade(connection, "-1")
        schema.upgrade(connection)

    database = Database(database_url)
    try:
        await database.opened(migrate)
        assert await SqlRepository(database).list(10, 0) == (entities, 3)
    finally:
        await database.close()
    with engine.begin() as connection:
        downgrade(connection, "base")  # the first revision drops its table, rows and all
        assert tables(connection) == set()


async def test_a_database_made_before_migrations_is_taken_as_it_is(
    database_url: str, engine: sa.Engine
) -> None:
    with engine.begin() as connection:
        command.upgrade(schema.alembic_config(connection), RENDERED)
        # Those versions made the same tables, and kept no revision.
        connection.execute(sa.text("DROP TABLE alembic_version"))
    entity = new_entity(1)
    database = Database(database_url)
    try:
        with pytest.raises(opening.DatabaseUnavailableError, match="make migrate"):
            await database.opened(lambda connection: schema.prepare(connection, False))
        await database.opened(migrate)
        await SqlRepository(database).add(entity)
        assert await SqlRepository(database).get(entity.id) == entity
    finally:
        await database.close()


async def test_a_database_migrated_by_a_newer_version_is_refused_even_with_auto_migrate(
    database_url: str, engine: sa.Engine
) -> None:
    with engine.begin() as connection:
        schema.upgrade(connection)
        connection.execute(sa.text("UPDATE alembic_version SET version_num = 'f00d'"))
    database = Database(database_url)
    try:
        with pytest.raises(opening.DatabaseUnavailableError, match="a newer one migrated it"):
            await database.opened(migrate)
    finally:
        await database.close()

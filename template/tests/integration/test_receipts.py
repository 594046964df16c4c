"""Receipts in the database: found by subject and id, and cleared once older than a day."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from tests.samples import Database, Receipt, Request, migrate, receipts

REPLY: dict[str, Any] = {"id": "u-1", "name": "Ada"}


@pytest.fixture
async def database(database_url: str) -> Any:
    database = Database(database_url)
    await database.opened(migrate)
    yield database
    await database.close()


async def test_a_receipt_is_found_by_its_subject_and_id(database: Database) -> None:
    store = receipts.SqlReceiptStore(database)
    request = Request("ada", "c-17", "digest")
    receipt = Receipt(request, REPLY)
    await database.run(lambda connection: receipts.store(connection, receipt))

    assert await store.find("ada", "c-17") == receipt
    assert await store.find("bob", "c-17") is None
    assert await store.find("ada", "c-18") is None


async def test_receipts_older_than_a_day_are_cleared_and_newer_ones_kept(
    database: Database,
) -> None:
    store = receipts.SqlReceiptStore(database)
    now = datetime.now(UTC)
    ages = {"c-old": timedelta(hours=25), "c-older": timedelta(days=3), "c-new": timedelta(0)}
    for request_id, age in ages.items():
        receipt = Receipt(Request("ada", request_id, "digest"), REPLY)
        older = (
            receipts.table.update()
            .where(receipts.table.c.request_id == request_id)
            .values(created_at=now - age)
        )

        def write_then_age(connection: sa.Connection) -> None:
            receipts.store(connection, receipt)  # noqa: B023 (run before the loop goes on)
            connection.execute(older)  # noqa: B023

        await database.run(write_then_age)

    cleared = await store.clear_old()

    assert cleared == 2
    assert await store.find("ada", "c-new") is not None
    assert await store.find("ada", "c-old") is None
    remaining = await database.run(
        lambda connection: connection.scalar(sa.select(sa.func.count()).select_from(receipts.table))
    )
    assert remaining == 1

"""Receipts in the SQL database, beside the entities, written in the same transactions."""

import asyncio
import json
import logging
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from ..usecase.receipts import Receipt, ReceiptStore, Request, RequestAlreadyDoneError
from .database import Database, metadata

log = logging.getLogger(__name__)
KEEP = timedelta(hours=24)  # at least this long (the protocol's promise), then cleared
CLEAR_EVERY = 600.0  # seconds between clean-ups
CLEAR_BATCH = 1000  # receipts cleared per statement: a clean-up never holds the database long

table = sa.Table(
    "receipts",
    metadata,
    sa.Column("subject", sa.String(255), primary_key=True),
    sa.Column("request_id", sa.String(64), primary_key=True),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("reply", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
)

FIND = sa.select(table).where(
    table.c.subject == sa.bindparam("subject"), table.c.request_id == sa.bindparam("request_id")
)
INSERT = table.insert()
REMOVE = table.delete().where(
    table.c.subject == sa.bindparam("subject"), table.c.request_id == sa.bindparam("request_id")
)
OLDEST = (
    sa.select(table.c.subject, table.c.request_id)
    .where(table.c.created_at < sa.bindparam("before"))
    .limit(CLEAR_BATCH)
)


def store(connection: Connection, receipt: Receipt) -> None:
    """Write `receipt` as part of the caller's transaction. A receipt of the same request
    stored first makes the whole transaction fail, so the write it goes with never happens."""
    row = {
        "subject": receipt.request.subject,
        "request_id": receipt.request.id,
        "digest": receipt.request.digest,
        "reply": json.dumps(receipt.reply, separators=(",", ":")),
        "created_at": datetime.now(UTC),
    }
    try:
        connection.execute(INSERT, row)
    except IntegrityError:
        raise RequestAlreadyDoneError(receipt.request.id) from None


class SqlReceiptStore(ReceiptStore):
    def __init__(self, database: Database) -> None:
        self._database = database

    async def find(self, subject: str, request_id: str) -> Receipt | None:
        parameters = {"subject": subject, "request_id": request_id}
        row = await self._database.run(
            lambda connection: connection.execute(FIND, parameters).mappings().first()
        )
        if row is None:
            return None
        request = Request(row["subject"], row["request_id"], row["digest"])
        return Receipt(request, json.loads(row["reply"]))

    async def clear_old(self) -> int:
        """Remove receipts older than KEEP, a batch at a time; how many went."""
        before = datetime.now(UTC) - KEEP
        cleared = 0
        while True:
            count = await self._database.run(lambda connection: _clear_batch(connection, before))
            cleared += count
            if count < CLEAR_BATCH:
                return cleared

    async def keep_clearing(self) -> None:
        """Clear old receipts every CLEAR_EVERY seconds, for as long as the service runs."""
        while True:
            await asyncio.sleep(CLEAR_EVERY)
            try:
                await self.clear_old()
            except Exception:  # the database may be away; try again next time
                log.warning("clearing old receipts failed", exc_info=True)


def _clear_batch(connection: Connection, before: datetime) -> int:
    keys = connection.execute(OLDEST, {"before": before}).mappings().all()
    if keys:
        connection.execute(REMOVE, [dict(key) for key in keys])
    return len(keys)

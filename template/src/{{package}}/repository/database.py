"""The database: one SQLAlchemy connection whose work all runs on a thread of its own.

SQLite takes one writer at a time. With every transaction on one thread, writers never
queue on the file lock (whose back-off made busy writes wait about 230 ms), and each
operation costs one hop between the event loop and that thread, where an async driver
takes several (one per statement, cursor and commit). The thread keeps its connection
open: checking one out of a pool for each operation cost as much as the query.
"""

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, MetaData, create_engine, event
from sqlalchemy.engine import make_url

metadata = MetaData()
T = TypeVar("T")


class Database:
    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            # Accepts the `sqlite+aiosqlite://` URLs of earlier versions too.
            parsed = parsed.set(drivername="sqlite")
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        self._engine = create_engine(parsed, pool_pre_ping=parsed.drivername != "sqlite")
        if parsed.drivername == "sqlite":
            event.listen(self._engine, "connect", _tune_sqlite)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="database")
        self._connection: Connection | None = None  # opened and used on the thread only

    async def run(self, work: Callable[[Connection], T]) -> T:
        """Run `work` in a transaction of its own, on the database thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._transaction, work)

    async def create_schema(self) -> None:
        await self.run(metadata.create_all)

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._thread, self._disconnect)
        self._thread.shutdown()

    def _transaction(self, work: Callable[[Connection], T]) -> T:
        if self._connection is None:
            self._connection = self._engine.connect()
        with self._connection.begin():
            return work(self._connection)

    def _disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self._engine.dispose()


def _tune_sqlite(connection: Any, _record: Any) -> None:
    # WAL lets readers run while a write commits; the busy timeout rides out other
    # processes' locks.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()

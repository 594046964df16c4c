"""The database: one SQLAlchemy connection whose work all runs on a thread of its own.

SQLite takes one writer at a time. With every transaction on one thread, writers never
queue on the file lock (whose back-off made busy writes wait about 230 ms). Work that
arrives while the thread is busy waits and then runs as one batch, in one transaction: one
hop between the event loop and the thread and one commit for the whole batch, where an
async driver takes a hop per statement, cursor and commit. The thread keeps its connection
open: checking one out of a pool for each operation cost as much as the query.
"""

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, MetaData, create_engine, event
from sqlalchemy.engine import make_url

metadata = MetaData()
T = TypeVar("T")
Work = Callable[[Connection], Any]
Outcome = tuple[asyncio.Future[Any], Any, BaseException | None]


class Database:
    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            # Accepts the `sqlite+aiosqlite://` URLs of earlier versions too.
            parsed = parsed.set(drivername="sqlite")
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        self._engine = create_engine(parsed)
        if parsed.drivername == "sqlite":
            event.listen(self._engine, "connect", _tune_sqlite)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="database")
        self._connection: Connection | None = None  # opened and used on the thread only
        self._waiting: list[tuple[Work, asyncio.Future[Any]]] = []
        self._lock = threading.Lock()  # guards _waiting, filled by the loop, taken by the thread

    async def run(self, work: Callable[[Connection], T]) -> T:
        """Run `work` on the database thread, in a transaction with whatever else waits."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        with self._lock:
            self._waiting.append((work, future))
            first = len(self._waiting) == 1
        if first:  # later arrivals join the batch this one starts
            loop.run_in_executor(self._thread, self._run_batch, loop)
        return await future

    async def create_schema(self) -> None:
        await self.run(metadata.create_all)

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._thread, self._disconnect)
        self._thread.shutdown()

    def _run_batch(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            batch, self._waiting = self._waiting, []
        outcomes: list[Outcome]
        try:
            connection = self._connected()
            with connection.begin():
                outcomes = [(future, work(connection), None) for work, future in batch]
        except Exception:
            # One of them failed and the transaction is undone: run each alone, so that
            # only the one that fails fails.
            outcomes = [self._alone(work, future) for work, future in batch]
        loop.call_soon_threadsafe(_settle, outcomes)

    def _alone(self, work: Work, future: asyncio.Future[Any]) -> Outcome:
        try:
            connection = self._connected()
            with connection.begin():
                return future, work(connection), None
        except Exception as error:
            return future, None, error

    def _connected(self) -> Connection:
        if self._connection is None:
            self._connection = self._engine.connect()
        return self._connection

    def _disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self._engine.dispose()


def _settle(outcomes: list[Outcome]) -> None:
    for future, result, error in outcomes:
        if future.cancelled():
            continue
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)


def _tune_sqlite(connection: Any, _record: Any) -> None:
    # WAL lets readers run while a write commits; the busy timeout rides out other
    # processes' locks.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()

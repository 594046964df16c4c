"""The database: one SQLAlchemy connection whose work all runs on a thread of its own.

SQLite takes one writer at a time. With every transaction on one thread, writers never
queue on the file lock (whose back-off made busy writes wait about 230 ms). Work that
arrives while the thread is busy waits and then runs as one batch, in one transaction: one
hop between the event loop and the thread and one commit for the whole batch, where an
async driver takes a hop per statement, cursor and commit. The thread keeps its connection
open: checking one out of a pool for each operation cost as much as the query.

PostgreSQL (DATABASE_URL=postgresql+psycopg://...) runs the same way. Its server may go away
while the service runs: a connection found lost is dropped, the operations of that moment fail,
and the next one connects anew, so that the service works again once the server is back. Work
that finds the connection lost before it reached its commit runs once more on a new one: the
first request after an outage must not fail on a connection that died meanwhile.
"""

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Connection, MetaData, event
from sqlalchemy.exc import DBAPIError

from . import opening

metadata = MetaData()
T = TypeVar("T")
Work = Callable[[Connection], Any]
Outcome = tuple[asyncio.Future[Any], Any, BaseException | None]


class Database:
    def __init__(self, url: str) -> None:
        self._url = parsed = opening.normalized(url)
        self._engine = opening.engine(parsed)
        if parsed.drivername == "sqlite":
            event.listen(self._engine, "connect", _tune_sqlite)
        elif parsed.get_backend_name() == "postgresql":
            event.listen(self._engine, "connect", _speak_utc)
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

    def open(self, prepare: Callable[[Connection], None]) -> None:
        """Connect and run `prepare` (the schema's check, or its upgrade), and wait for it:
        the service opens its database before it listens, so that one it cannot use stops
        the start-up (with opening.DatabaseUnavailableError, saying why)."""
        self._thread.submit(self._open, prepare).result()

    async def opened(self, prepare: Callable[[Connection], None]) -> None:
        """`open`, awaited."""
        await asyncio.get_running_loop().run_in_executor(self._thread, self._open, prepare)

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._thread, self._disconnect)
        self._thread.shutdown()

    def _run_batch(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            batch, self._waiting = self._waiting, []
        outcomes: list[Outcome]
        try:
            outcomes = self._transaction(
                lambda connection: [(future, work(connection), None) for work, future in batch]
            )
        except Exception as error:
            if self._connection is None:
                # Out of reach: each alone would only wait for the same failure again.
                outcomes = [(future, None, error) for _, future in batch]
            else:
                # One of them failed and the transaction is undone: run each alone, so
                # that only the one that fails fails.
                outcomes = [self._alone(work, future) for work, future in batch]
        loop.call_soon_threadsafe(_settle, outcomes)

    def _alone(self, work: Work, future: asyncio.Future[Any]) -> Outcome:
        try:
            return future, self._transaction(work), None
        except Exception as error:
            return future, None, error

    def _open(self, prepare: Callable[[Connection], None]) -> None:
        try:
            self._transaction(prepare)
        except opening.DatabaseUnavailableError:
            raise
        except Exception as error:
            raise opening.unusable(self._url, error) from error

    def _transaction(self, work: Callable[[Connection], T], again: bool = True) -> T:
        if self._connection is None:
            self._connection = self._engine.connect()
        committing = False
        try:
            with self._connection.begin():
                result = work(self._connection)
                committing = True
            return result
        except DBAPIError as error:
            if not error.connection_invalidated:
                raise
            self._disconnect()  # lost, e.g. by a restart of the server
            if again and not committing:  # nothing was written: safe to run once more
                return self._transaction(work, again=False)
            raise

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


def _speak_utc(connection: Any, _record: Any) -> None:
    # PostgreSQL gives moments in the session's time zone, the server's by default; the
    # service's moments are UTC, whatever the server's TimeZone setting.
    cursor = connection.cursor()
    cursor.execute("SET TIME ZONE 'UTC'")
    cursor.close()
    connection.commit()

"""Whether the database answers now, for `/ready`."""

import asyncio

from sqlalchemy import Connection, text

from .database import Database

PROBE_TIMEOUT = 2.0  # seconds; a database slower than this is as good as away
SELECT_ONE = text("SELECT 1")


async def database_problem(database: Database) -> str | None:
    try:
        await asyncio.wait_for(database.run(_select_one), PROBE_TIMEOUT)
    except Exception as error:  # whatever it is, the database cannot serve
        return f"cannot reach the database ({type(error).__name__})"
    return None


def _select_one(connection: Connection) -> None:
    connection.execute(SELECT_ONE)

"""The repository's tests run on both databases the service supports: SQLite and PostgreSQL.

The PostgreSQL cases are marked `servers` (deselect them with `-m "not servers"`); each worker
starts one private server when its first such case runs, and each case gets a new database.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.postgres import PostgresServer, running_postgres


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    with running_postgres() as server:
        yield server


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.servers)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a new, empty database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'data' / 'service.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create_database()

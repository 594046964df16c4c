"""One service per test worker for the tests that need no special settings."""

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.credentials import auth_headers
from tests.e2e.harness import WAIT, Peer, Server, open_peer, running
from tests.servers.redis import RedisServer, TlsRedisServer


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running(tmp_path_factory.mktemp("service")) as server:
        yield server


@pytest.fixture
async def http(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=server.base_url, timeout=WAIT, headers=auth_headers()
    ) as client:
        yield client


@pytest.fixture
async def peer(server: Server) -> AsyncIterator[Peer]:
    async with open_peer(server) as peer:
        yield peer


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A private Redis for one test, which may stop and start it."""
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def tls_redis(tmp_path: Path) -> Iterator[TlsRedisServer]:
    """A private Redis that also speaks TLS."""
    server = TlsRedisServer(tmp_path)
    server.start()
    yield server
    server.stop()

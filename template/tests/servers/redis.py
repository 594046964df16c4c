"""A private Redis server for tests: the benchmark's (bench/redis.py), with a password.

It needs only the package (`apt-get install redis-server`). It keeps nothing on disk, as a
Redis without persistence: stopped and started again, it comes back empty, on the same port.
Without the package the tests that need it are skipped, unless REQUIRE_SERVERS is set (as in
the template's CI), which makes them fail.
"""

import os
import secrets
from pathlib import Path

import pytest
from bench import redis

MISSING = "Redis is not installed: apt-get install redis-server"


def redis_server() -> str:
    """The `redis-server` program; skips the calling test without one, or fails it when
    REQUIRE_SERVERS is set."""
    found = redis.find_program()
    if found:
        return found
    if os.environ.get("REQUIRE_SERVERS"):
        pytest.fail(MISSING)
    pytest.skip(MISSING)


class RedisServer(redis.RedisServer):
    """With a password, so that tests can see it is never shown."""

    def __init__(self, folder: Path) -> None:
        super().__init__(redis_server(), folder, password=secrets.token_hex(8))

"""A private Redis server for tests: the benchmark's (bench/redis.py), with a password.

It needs only the package (`apt-get install redis-server`). It keeps nothing on disk, as a
Redis without persistence: stopped and started again, it comes back empty, on the same port.
Without the package the tests that need it are skipped, unless REQUIRE_SERVERS is set (as in
the template's CI), which makes them fail.
"""

import os
import secrets
import shutil
import subprocess
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

    def __init__(self, folder: Path, options: tuple[str, ...] = ()) -> None:
        super().__init__(redis_server(), folder, secrets.token_hex(8), options)


class TlsRedisServer(RedisServer):
    """Also listening with TLS, on a port of its own, with a self-signed certificate for
    127.0.0.1 that clients are told to trust (`ssl_ca_certs` in the URL)."""

    def __init__(self, folder: Path) -> None:
        self.certificate, key = folder / "redis.crt", folder / "redis.key"
        make_certificate(self.certificate, key)
        self.tls_port = redis.free_port()
        tls = {
            "--tls-port": str(self.tls_port),
            "--tls-cert-file": str(self.certificate),
            "--tls-key-file": str(key),
            "--tls-ca-cert-file": str(self.certificate),
            "--tls-auth-clients": "no",  # the password authenticates; TLS only encrypts
        }
        super().__init__(folder, tuple(part for option in tls.items() for part in option))

    @property
    def tls_url(self) -> str:
        address = f"127.0.0.1:{self.tls_port}/0"
        return f"rediss://:{self.password}@{address}?ssl_ca_certs={self.certificate}"


def make_certificate(certificate: Path, key: Path) -> None:
    """A self-signed certificate for 127.0.0.1, valid for a day (needs the `openssl` program)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        missing = "openssl is not installed: apt-get install openssl"
        if os.environ.get("REQUIRE_SERVERS"):
            pytest.fail(missing)
        pytest.skip(missing)
    subprocess.run(
        [
            openssl,
            *("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(certificate), "-subj", "/CN=127.0.0.1"),
            *("-addext", "subjectAltName=IP:127.0.0.1"),
        ],
        check=True,
        capture_output=True,
    )

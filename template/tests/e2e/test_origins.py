"""Browser origins: the allow-list, else the same origin only; non-browsers are not checked."""

import json
from collections.abc import Iterator

import pytest

from tests.e2e.credentials import auth_headers, expected_subject
from tests.e2e.harness import Server, open_peer, raw_handshake, refusal, running
from tests.samples import message_type, valid_data

CREATE = message_type("create")
ALLOWED = ("https://app.example.com", "https://admin.example.com:8443")
FOREIGN = [
    "https://evil.example.com",
    "null",
    "http://127.0.0.1:1",
    "http://localhost",
    "https://app.example.com.evil.test",
    "http://app.example.com",
    "https://app.example.com:444",
    "https://admin.example.com",
]


def with_origin(origin: str) -> dict[str, str]:
    """Valid credentials (when the service wants any) and a browser's `Origin`."""
    return auth_headers() | {"Origin": origin}


async def assert_accepted(server: Server, headers: dict[str, str]) -> None:
    async with open_peer(server, join=False, additional_headers=headers) as peer:
        assert (await peer.request("ping"))["type"] == "pong"
        created = await peer.ack(CREATE, valid_data())
    assert created["created_by"] == expected_subject()


async def assert_forbidden(server: Server, origin: str) -> None:
    status, error = await refusal(server, additional_headers=with_origin(origin))
    assert status == 403, (origin, error)
    assert error["code"] == "forbidden"
    assert "origin" in error["message"]


@pytest.fixture(scope="module")
def allowing_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A service with an allow-list, written as people do: with spaces and an empty item."""
    allowed = f" {ALLOWED[0]} ,{ALLOWED[1]},"
    with running(tmp_path_factory.mktemp("origins"), ALLOWED_ORIGINS=allowed) as server:
        yield server


@pytest.mark.parametrize("origin", FOREIGN)
async def test_a_foreign_origin_is_403_without_an_allow_list(server: Server, origin: str) -> None:
    await assert_forbidden(server, origin)


async def test_a_refused_origin_gets_plain_http_and_no_upgrade(server: Server) -> None:
    answer = await raw_handshake(server, with_origin("https://evil.example.com"))

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 403 ")
    assert b"sec-websocket-accept" not in head.lower()
    assert json.loads(body) == {"error": {"code": "forbidden", "message": "origin not allowed"}}


async def test_the_same_origin_is_accepted(server: Server) -> None:
    await assert_accepted(server, with_origin(server.base_url))


async def test_no_origin_is_accepted(server: Server) -> None:
    await assert_accepted(server, auth_headers())


@pytest.mark.parametrize("origin", ALLOWED)
async def test_an_origin_in_allowed_origins_is_accepted(
    allowing_server: Server, origin: str
) -> None:
    await assert_accepted(allowing_server, with_origin(origin))


@pytest.mark.parametrize("origin", FOREIGN)
async def test_an_origin_outside_allowed_origins_is_403(
    allowing_server: Server, origin: str
) -> None:
    await assert_forbidden(allowing_server, origin)


async def test_the_same_origin_and_no_origin_stay_accepted_with_an_allow_list(
    allowing_server: Server,
) -> None:
    await assert_accepted(allowing_server, with_origin(allowing_server.base_url))
    await assert_accepted(allowing_server, auth_headers())

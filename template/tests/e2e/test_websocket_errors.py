"""Every error code the service can send today, and that none of them closes the connection."""

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import WAIT, Frame, Peer, Server, moment, new_id, open_peer, running
from tests.samples import (
    PLURAL,
    REQUIRED_FIELDS,
    TEXT_FIELDS,
    changed_data,
    message_type,
    valid_data,
)

CREATE = message_type("create")
LIST = message_type("list")
DEFAULT_PAGE = 50  # entities in a page when the request names no limit
LARGEST_PAGE = 500
LEAKS = ("Traceback", "OperationalError", "sqlite", "no such table", f"{PLURAL}_away")


def error_of(reply: Frame, code: str) -> Frame:
    """The data of an error reply with `code`, after checking its shape."""
    assert reply["type"] == "error", reply
    moment(reply["timestamp"])
    data = reply["data"]
    assert isinstance(data, dict)
    assert data["code"] == code, data
    assert isinstance(data["message"], str)
    assert data["message"]
    return data


def fields_in(data: Frame) -> set[str]:
    details = data["details"]
    assert isinstance(details, list)
    assert all(isinstance(problem["message"], str) for problem in details)
    return {problem["field"] for problem in details}


async def assert_still_open(peer: Peer) -> None:
    assert (await peer.request("ping"))["type"] == "pong"


async def test_invalid_json_is_answered_with_a_null_id(peer: Peer) -> None:
    await peer.send('{"type": "ping", "id": "p-1"')

    error_of(await peer.reply_to(None), "invalid_json")
    await assert_still_open(peer)


@pytest.mark.parametrize(
    ("frame", "field"),
    [
        ({"type": "Not A Type", "id": "keep-me"}, "type"),
        ({"type": "ping", "id": "keep-me", "data": "not an object"}, "data"),
        ({"type": "ping", "id": "keep-me", "timestamp": "yesterday"}, "timestamp"),
        ({"id": "keep-me"}, "type"),
    ],
    ids=["bad-type", "data-not-an-object", "bad-timestamp", "no-type"],
)
async def test_an_invalid_envelope_keeps_a_readable_id(
    peer: Peer, frame: Frame, field: str
) -> None:
    request_id = new_id()

    await peer.send(frame | {"id": request_id})

    data = error_of(await peer.reply_to(request_id), "invalid_message")
    assert field in fields_in(data)
    await assert_still_open(peer)


@pytest.mark.parametrize(
    "frame",
    [{"type": "ping"}, {"type": "ping", "id": ""}, {"type": "ping", "id": 17}, [1, 2], "ping"],
    ids=["no-id", "empty-id", "number-id", "array", "string"],
)
async def test_an_invalid_envelope_without_a_readable_id_gets_a_null_id(
    peer: Peer, frame: Any
) -> None:
    await peer.send(json.dumps(frame))

    error_of(await peer.reply_to(None), "invalid_message")
    await assert_still_open(peer)


async def test_an_over_long_id_is_not_echoed(peer: Peer) -> None:
    await peer.send({"type": "ping", "id": "x" * 65})

    data = error_of(await peer.reply_to(None), "invalid_message")
    assert fields_in(data) == {"id"}


async def test_an_unknown_type_is_refused_with_its_id(peer: Peer) -> None:
    reply = await peer.request("no_such.thing", {})

    error_of(reply, "unknown_type")


async def test_an_unknown_field_is_a_validation_error(peer: Peer) -> None:
    reply = await peer.request(CREATE, valid_data() | {"unexpected": 1})

    assert fields_in(error_of(reply, "validation_error")) == {"unexpected"}


@pytest.mark.skipif(not REQUIRED_FIELDS, reason="the entity has no required field")
async def test_missing_fields_are_listed(peer: Peer) -> None:
    reply = await peer.request(CREATE, {})

    data = error_of(reply, "validation_error")
    assert fields_in(data) == {field.name for field in REQUIRED_FIELDS}


async def test_a_bad_page_is_a_validation_error(peer: Peer) -> None:
    reply = await peer.request(message_type("list"), {"limit": 0, "offset": -1})

    assert fields_in(error_of(reply, "validation_error")) == {"limit", "offset"}


async def test_an_update_needs_an_id(peer: Peer) -> None:
    reply = await peer.request(message_type("update"), changed_data())

    assert fields_in(error_of(reply, "validation_error")) == {"id"}


@pytest.mark.skipif(not TEXT_FIELDS, reason="the entity has no text field")
async def test_a_broken_invariant_is_a_validation_error(peer: Peer) -> None:
    name = TEXT_FIELDS[0].name

    reply = await peer.request(CREATE, valid_data() | {name: "   "})

    assert fields_in(error_of(reply, "validation_error")) == {name}


@pytest.mark.parametrize("action", ["get", "update", "delete"])
async def test_an_unknown_id_is_not_found(peer: Peer, action: str) -> None:
    request_id = new_id()

    reply = await peer.request(message_type(action), {"id": "no-such-id"}, request_id)

    assert reply["id"] == request_id
    error_of(reply, "not_found")


async def test_an_update_of_a_stale_version_conflicts(peer: Peer) -> None:
    created = await peer.ack(CREATE, valid_data())
    await peer.ack(message_type("update"), {"id": created["id"], **changed_data()})

    reply = await peer.request(
        message_type("update"), {"id": created["id"], "version": 1, **valid_data(1)}
    )

    error_of(reply, "conflict")
    assert (await peer.ack(message_type("get"), {"id": created["id"]}))["version"] == 2


async def test_errors_never_close_the_connection(peer: Peer) -> None:
    await peer.send("not json")
    await peer.reply_to(None)
    await peer.send({"type": "BAD"})
    await peer.reply_to(None)
    await peer.request("no.such_type")
    await peer.request(CREATE, {"unexpected": True})
    await peer.request(message_type("get"), {"id": "no-such-id"})

    created = await peer.ack(CREATE, valid_data())

    assert created["version"] == 1


# Unexpected failures: a database that breaks under the running service.


@contextmanager
def table_away(database: Path) -> Iterator[None]:
    """The entities' table renamed under the running service, so that every use case fails
    as on a broken database, with an error the service does not expect; then put back."""
    with closing(sqlite3.connect(database, isolation_level=None, timeout=WAIT)) as outside:
        outside.execute(f"ALTER TABLE {PLURAL} RENAME TO {PLURAL}_away")
        try:
            yield
        finally:
            outside.execute(f"ALTER TABLE {PLURAL}_away RENAME TO {PLURAL}")


def leaks_nothing(text: str) -> bool:
    """Whether a reply keeps the failure's insides (trace, driver, SQL) to the server."""
    return not any(leak in text for leak in LEAKS)


@pytest.fixture(scope="module")
def breakable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A service of its own: these tests break its database on purpose."""
    with running(tmp_path_factory.mktemp("breakable")) as server:
        yield server


async def test_an_unexpected_failure_is_an_internal_error_that_keeps_the_connection(
    breakable: Server,
) -> None:
    async with open_peer(breakable) as peer:
        with table_away(breakable.database):
            create = await peer.request(CREATE, valid_data())
            page = await peer.request(LIST)
        pong = await peer.request("ping")  # no 1011: a failing use case is not a broken socket
        created = await peer.ack(CREATE, valid_data())  # and the service recovers

    for reply in (create, page):
        assert set(error_of(reply, "internal_error")) == {"code", "message"}, reply
        assert leaks_nothing(json.dumps(reply)), reply
    assert pong["type"] == "pong"
    assert created["version"] == 1
    assert "no such table" in breakable.output()  # operators get the cause instead


async def test_a_request_resent_after_an_unexpected_failure_runs_again(
    breakable: Server,
) -> None:
    """The reply said "try later": trying later with the same id must not meet the same
    failure for five minutes. Nothing was stored, so running it again cannot duplicate."""
    request_id = new_id()
    async with open_peer(breakable) as peer:
        with table_away(breakable.database):
            failed = await peer.request(CREATE, valid_data(), request_id)
        again = await peer.request(CREATE, valid_data(), request_id)
        stored = await peer.request(message_type("get"), {"id": again["data"].get("id")})

    error_of(failed, "internal_error")
    assert again["type"] == "ack", again
    assert stored["data"] == again["data"]


# The bounds of a page.


async def stored_at_least(peer: Peer, count: int) -> int:
    """Create entities until the service holds `count` or more; returns how many it holds."""
    total: int = (await peer.ack(LIST, {"limit": 1}))["total"]
    while total < count:
        ids = [new_id() for _ in range(min(50, count - total))]
        for n, request_id in enumerate(ids):
            await peer.send({"type": CREATE, "id": request_id, "data": valid_data(n)})
        for request_id in ids:  # replies come in the order of the requests
            assert (await peer.reply_to(request_id))["type"] == "ack"
        total = (await peer.ack(LIST, {"limit": 1}))["total"]
    return total


@pytest.mark.parametrize("data", [None, {}], ids=["no-data", "empty-data"])
async def test_a_page_without_limit_or_offset_is_the_first_fifty(
    peer: Peer, data: Frame | None
) -> None:
    total = await stored_at_least(peer, DEFAULT_PAGE + 1)

    page = await peer.ack(LIST, data)

    assert len(page["items"]) == DEFAULT_PAGE
    assert page["total"] == total
    assert page == await peer.ack(LIST, {"limit": DEFAULT_PAGE, "offset": 0})


async def test_the_largest_page_is_500_and_501_is_refused(peer: Peer) -> None:
    await stored_at_least(peer, LARGEST_PAGE + 1)

    largest = await peer.ack(LIST, {"limit": LARGEST_PAGE})
    refused = await peer.request(LIST, {"limit": LARGEST_PAGE + 1})

    assert len(largest["items"]) == LARGEST_PAGE
    assert fields_in(error_of(refused, "validation_error")) == {"limit"}


async def test_a_negative_offset_is_refused_and_one_past_the_end_is_empty(peer: Peer) -> None:
    total = await stored_at_least(peer, 1)

    refused = await peer.request(LIST, {"offset": -1})
    past_the_end = await peer.ack(LIST, {"offset": total})

    assert fields_in(error_of(refused, "validation_error")) == {"offset"}
    assert past_the_end == {"items": [], "total": total}

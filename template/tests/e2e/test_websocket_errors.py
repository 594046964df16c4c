"""Every error code the service can send today, and that none of them closes the connection."""

import json
from typing import Any

import pytest

from tests.e2e.harness import Frame, Peer, moment, new_id
from tests.samples import (
    REQUIRED_FIELDS,
    TEXT_FIELDS,
    changed_data,
    message_type,
    valid_data,
)

CREATE = message_type("create")


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

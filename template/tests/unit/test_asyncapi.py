"""The AsyncAPI document: generated from the router, so it lists exactly what the code serves."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.credentials import auth_settings
from tests.e2e.harness import SRC
from tests.samples import (
    ENTITY,
    FIELD_NAMES,
    PACKAGE,
    ROOMS,
    create_app,
    document,
    load_settings,
)

REQUESTS = {f"{ENTITY}.{action}" for action in ("create", "get", "list", "update", "delete")}
ROOM_REQUESTS = {"room.join", "room.leave", "room.publish", "room.members"}
EVENTS = {f"{ENTITY}.{change}" for change in ("created", "updated", "deleted")}


@pytest.fixture
def spec(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    for name, value in auth_settings().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    router = create_app(load_settings()).state.router
    return document(router, "service", "1.0.0", "tests")


def names(spec: dict[str, Any]) -> set[str]:
    return {message["name"] for message in spec["channels"]["ws"]["messages"].values()}


def test_it_is_asyncapi_3(spec: dict[str, Any]) -> None:
    assert spec["asyncapi"] == "3.0.0"
    assert spec["channels"]["ws"]["address"] == "/ws"


def test_the_channel_says_any_instance_answers(spec: dict[str, Any]) -> None:
    description = spec["channels"]["ws"]["description"]
    assert "BACKPLANE_URL" in description
    assert "reconnect to any of them" in description


def test_every_request_event_and_reply_is_listed(spec: dict[str, Any]) -> None:
    expected = REQUESTS | EVENTS | {"ack", "error", "ping", "pong"}
    if ROOMS:
        expected |= ROOM_REQUESTS | {"room.message"}
    assert names(spec) == expected


def test_each_request_is_an_operation_with_ack_and_error_replies(spec: dict[str, Any]) -> None:
    for type in REQUESTS:
        operation = spec["operations"][f"send_{type.replace('.', '_')}"]
        assert operation["action"] == "receive"
        replies = [ref["$ref"].rsplit("/", 1)[-1] for ref in operation["reply"]["messages"]]
        assert replies == ["ack", "error"]


def test_the_payload_schemas_are_the_models_schemas(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    for message in spec["channels"]["ws"]["messages"].values():
        data = message["payload"]["properties"]["data"]
        if "$ref" in data:
            assert data["$ref"].rsplit("/", 1)[-1] in schemas
    create = spec["channels"]["ws"]["messages"][f"{ENTITY}_create"]["payload"]
    model = schemas[create["properties"]["data"]["$ref"].rsplit("/", 1)[-1]]
    assert model["additionalProperties"] is False
    assert set(model["properties"]) == FIELD_NAMES


def test_the_command_prints_the_same_document(spec: dict[str, Any], tmp_path: Path) -> None:
    env = {**os.environ, **auth_settings(), "PYTHONPATH": str(SRC)}
    env["DATABASE_URL"] = "sqlite://"
    printed = subprocess.run(
        [sys.executable, "-m", f"{PACKAGE}.asyncapi"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )

    generated = json.loads(printed.stdout)
    assert names(generated) == names(spec)
    assert generated["components"] == spec["components"]

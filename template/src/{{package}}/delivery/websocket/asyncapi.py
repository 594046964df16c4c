"""The protocol as an AsyncAPI 3.0 document, generated from the router's message models."""

from typing import Any

from pydantic import BaseModel

from ..errors import ErrorCode
from .protocol import TYPE_PATTERN
from .router import Router

SCHEMA_REF = "#/components/schemas/{model}"


def document(router: Router, title: str, version: str, description: str) -> dict[str, Any]:
    """Every request the router accepts, its reply, and every event the server sends."""
    schemas: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}

    def message(type: str, summary: str, data: dict[str, Any]) -> dict[str, str]:
        name = type.replace(".", "_")
        messages[name] = {
            "name": type,
            "summary": summary,
            "payload": envelope(type, data),
        }
        return {"$ref": f"#/channels/ws/messages/{name}"}

    reply_ack = message("ack", "Success: the request's id and its result.", {"type": "object"})
    reply_error = message("error", "Failure: the request's id and what went wrong.", ERROR_DATA)
    for type, model in router.requests.items():
        request = message(type, f"A `{type}` request.", schema_of(model, schemas))
        operations[f"send_{type.replace('.', '_')}"] = {
            "action": "receive",
            "channel": {"$ref": "#/channels/ws"},
            "messages": [request],
            "reply": {"channel": {"$ref": "#/channels/ws"}, "messages": [reply_ack, reply_error]},
        }
    ping = message("ping", "Heartbeat; answered with `pong` carrying the same id.", ANY_OBJECT)
    pong = message("pong", "The answer to a `ping`.", ANY_OBJECT)
    operations["heartbeat"] = {
        "action": "receive",
        "channel": {"$ref": "#/channels/ws"},
        "messages": [ping],
        "reply": {"channel": {"$ref": "#/channels/ws"}, "messages": [pong]},
    }
    events = [
        message(type, f"The server's `{type}` event.", schema_of(model, schemas))
        for type, model in router.events.items()
    ]
    operations["receive_events"] = {
        "action": "send",
        "channel": {"$ref": "#/channels/ws"},
        "messages": [*events, ping],
    }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": title, "version": version, "description": description},
        "defaultContentType": "application/json",
        "servers": {
            "local": {"host": "127.0.0.1:8000", "protocol": "ws", "pathname": "/ws"},
        },
        "channels": {
            "ws": {"address": "/ws", "description": SEVERAL_INSTANCES, "messages": messages}
        },
        "operations": operations,
        "components": {"schemas": schemas},
    }


def schema_of(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, Any]:
    """A reference to the model's JSON schema, which is added to `schemas` with its parts."""
    schema = model.model_json_schema(by_alias=True, ref_template=SCHEMA_REF)
    schemas.update(schema.pop("$defs", {}))
    schemas[model.__name__] = schema
    return {"$ref": SCHEMA_REF.format(model=model.__name__)}


def envelope(type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["type", "id", "data"],
        "properties": {
            "type": {"const": type, "pattern": TYPE_PATTERN},
            "id": {"type": ["string", "null"], "minLength": 1, "maxLength": 64},
            "timestamp": {"type": "string", "format": "date-time"},
            "room": {"type": "string"},
            "data": data,
        },
    }


SEVERAL_INSTANCES = (
    "Every instance of the service answers on /ws. Instances that share BACKPLANE_URL (Redis) "
    "deliver room messages and events to every client, whichever instance it is connected to, "
    "and answer a re-sent request with its first reply; a client may reconnect to any of them."
)
ANY_OBJECT: dict[str, Any] = {"type": "object"}
ERROR_DATA: dict[str, Any] = {
    "type": "object",
    "required": ["code", "message"],
    "properties": {
        "code": {"enum": [code.value for code in ErrorCode]},
        "message": {"type": "string"},
        "details": {},
    },
}

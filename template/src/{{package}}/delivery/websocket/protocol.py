"""The wire contract: envelopes, error codes and close codes (see docs/websocket.md)."""

import json
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..errors import ProtocolError

TYPE_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$"


class CloseCode(IntEnum):
    NORMAL = 1000
    GOING_AWAY = 1001
    UNSUPPORTED_DATA = 1003
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    INTERNAL_ERROR = 1011
    TRY_AGAIN_LATER = 1013
    HEARTBEAT_TIMEOUT = 4000


class Envelope(BaseModel):
    """One frame from a client."""

    model_config = ConfigDict(frozen=True)

    type: str = Field(pattern=TYPE_PATTERN, max_length=128)
    id: str = Field(min_length=1, max_length=64)
    timestamp: datetime | None = None
    data: dict[str, Any] = Field(default_factory=dict)


def now() -> str:
    """RFC 3339 in UTC with milliseconds, e.g. 2026-01-01T00:00:00.000Z."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def encode(type: str, id: str | None, data: dict[str, Any], room: str | None = None) -> str:
    """One outgoing frame as text, serialized once whatever the number of recipients."""
    frame: dict[str, Any] = {"type": type, "id": id, "timestamp": now(), "data": data}
    if room is not None:
        frame["room"] = room
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


def encode_error(id: str | None, error: ProtocolError) -> str:
    data: dict[str, Any] = {"code": error.code.value, "message": error.message}
    if error.details is not None:
        data["details"] = error.details
    return encode("error", id, data)


def readable_id(frame: object) -> str | None:
    """The request id of a frame that failed validation, if it has a usable one."""
    if isinstance(frame, dict):
        candidate = frame.get("id")
        if isinstance(candidate, str) and 1 <= len(candidate) <= 64:
            return candidate
    return None

"""Logging set-up: JSON lines (one object per event, for log pipelines) or plain text."""

import json
import logging
from datetime import UTC, datetime
from typing import Literal

# Attributes every LogRecord has; anything else was passed in `extra` and is a field
# (except uvicorn's `color_message`: the message again, with terminal colour codes).
STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}


# Uvicorn reports every handshake refused with an HTTP response (401, 403, 503) as an error,
# although the ASGI spec allows it; the service logs its own `refuse` event instead.
REFUSAL_NOISE = "ASGI callable returned without completing handshake."


def not_refusal_noise(record: logging.LogRecord) -> bool:
    return record.getMessage() != REFUSAL_NOISE


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry |= {key: value for key, value in record.__dict__.items() if key not in STANDARD}
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(level: str, style: Literal["json", "text"]) -> None:
    handler = logging.StreamHandler()
    if style == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(not_refusal_noise)
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    # Alembic tells how it talks to the database; schema.py says what it changed, once.
    logging.getLogger("alembic").setLevel(max(logging.WARNING, logging.root.level))

"""Checks shared by entities: each returns None when the value is fine, else what is wrong."""

import math
import re
from datetime import datetime

from .errors import FieldProblem, InvalidEntityError

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_TEXT = 10_000
INT64 = 2**63


def enforce(*checks: tuple[str, str | None]) -> None:
    """Raise InvalidEntityError listing every failed check, or return quietly."""
    problems = [FieldProblem(field, message) for field, message in checks if message is not None]
    if problems:
        raise InvalidEntityError(problems)


def text(value: str | None) -> str | None:
    if value is None:
        return None
    if not value.strip():
        return "must not be blank"
    if len(value) > MAX_TEXT:
        return f"must be at most {MAX_TEXT} characters"
    return None


def email(value: str | None) -> str | None:
    if value is None:
        return None
    if len(value) > 254 or not EMAIL.match(value):
        return "must be an e-mail address such as ada@example.com"
    return None


def integer(value: int | None) -> str | None:
    if value is None or -INT64 <= value < INT64:
        return None
    return "must fit in 64 bits"


def number(value: float | None) -> str | None:
    if value is None or math.isfinite(value):
        return None
    return "must be a finite number"


def moment(value: datetime | None) -> str | None:
    if value is None or value.tzinfo is not None:
        return None
    return "must carry a time zone, e.g. 2026-01-01T00:00:00Z"

"""The wire's error vocabulary, and how failures become wire errors: the same for REST and
WebSocket, so both import it from here and never from each other."""

from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from ..domain.errors import ConflictError, InvalidEntityError, NotFoundError
from ..wording import plainly


class ErrorCode(StrEnum):
    INVALID_JSON = "invalid_json"
    INVALID_MESSAGE = "invalid_message"
    UNKNOWN_TYPE = "unknown_type"
    VALIDATION_ERROR = "validation_error"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    FORBIDDEN = "forbidden"
    RATE_LIMITED = "rate_limited"
    INTERNAL_ERROR = "internal_error"


class ProtocolError(Exception):
    """A request that fails with one of the protocol's error codes."""

    def __init__(self, code: ErrorCode, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


HTTP_STATUS = {
    ErrorCode.INVALID_JSON: 400,
    ErrorCode.INVALID_MESSAGE: 400,
    ErrorCode.UNKNOWN_TYPE: 400,
    ErrorCode.VALIDATION_ERROR: 422,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.INTERNAL_ERROR: 500,
}


def field_problems(error: ValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(part) for part in problem["loc"]), "message": plainly(problem)}
        for problem in error.errors(include_url=False, include_input=False)
    ]


def to_protocol_error(error: Exception) -> ProtocolError | None:
    """The wire error for a known failure; None for a bug (reported as internal_error)."""
    match error:
        case ProtocolError():
            return error
        case ValidationError():
            problems = field_problems(error)
            return ProtocolError(ErrorCode.VALIDATION_ERROR, "data is not valid", problems)
        case InvalidEntityError():
            details = [{"field": p.field, "message": p.message} for p in error.problems]
            return ProtocolError(ErrorCode.VALIDATION_ERROR, "data is not valid", details)
        case NotFoundError():
            return ProtocolError(ErrorCode.NOT_FOUND, str(error))
        case ConflictError():
            return ProtocolError(ErrorCode.CONFLICT, str(error))
    return None

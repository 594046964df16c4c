"""How failures become wire errors, the same for REST and WebSocket."""

from typing import Any

from pydantic import ValidationError

from ..domain.errors import ConflictError, InvalidEntityError, NotFoundError
from ..wording import plainly
from .websocket.protocol import ErrorCode, ProtocolError

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

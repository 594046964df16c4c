"""Every HTTP failure as `{"error": {"code", "message", "details"}}`."""

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..errors import HTTP_STATUS, to_protocol_error
from ..websocket.protocol import ErrorCode, ProtocolError

log = logging.getLogger(__name__)


def error_response(error: ProtocolError, status: int | None = None) -> JSONResponse:
    body: dict[str, Any] = {"code": error.code.value, "message": error.message}
    if error.details is not None:
        body["details"] = error.details
    return JSONResponse({"error": body}, status_code=status or HTTP_STATUS[error.code])


async def on_http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    code = ErrorCode.NOT_FOUND if error.status_code == 404 else ErrorCode.INVALID_MESSAGE
    return error_response(ProtocolError(code, str(error.detail)), error.status_code)


async def on_failure(request: Request, error: Exception) -> Response:
    known = to_protocol_error(error)
    if known is None:
        log.exception("%s %s failed", request.method, request.url.path)
        known = ProtocolError(ErrorCode.INTERNAL_ERROR, "the server failed; try later")
    return error_response(known)


async def on_unauthorized(request: Request, error: Exception) -> Response:
    response = error_response(ProtocolError(ErrorCode.FORBIDDEN, str(error)), 401)
    response.headers["WWW-Authenticate"] = "Bearer"
    return response

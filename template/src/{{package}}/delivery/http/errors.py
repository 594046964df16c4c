"""Every HTTP failure as `{"error": {"code", "message", "details"}}`."""

import logging
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import HTTP_STATUS, ErrorCode, ProtocolError, to_protocol_error

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


class UnexpectedFailures:
    """Answers a failure no handler knows with 500 and the error JSON, logged once.

    Starlette's own handler for `Exception` answers, then re-raises for the server: uvicorn
    logs the trace a second time and drops the connection, so that the client's next request
    on it fails too. Mount it inside the CORS middleware, so that a 500 gets CORS headers too.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._app(scope, receive, watched)
        except Exception as error:
            if started:  # too late to answer: the server ends the response its own way
                raise
            response = await on_failure(Request(scope), error)
            await response(scope, receive, send)

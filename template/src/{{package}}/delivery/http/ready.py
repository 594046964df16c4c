"""`GET /ready`: whether a load balancer should send this instance work now.

`/health` says the process lives; this says it can serve: not draining, and able to reach
its database and backplane. An instance that is not ready keeps its open connections.
"""

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response


def ready_endpoint(
    draining: Callable[[], bool], problem: Callable[[], Awaitable[str | None]]
) -> Callable[[Request], Awaitable[Response]]:
    async def ready(request: Request) -> Response:
        if draining():
            return JSONResponse({"status": "draining"}, status_code=503)
        reason = await problem()
        if reason is not None:
            return JSONResponse({"status": "degraded", "reason": reason}, status_code=503)
        return JSONResponse({"status": "ready"})

    return ready

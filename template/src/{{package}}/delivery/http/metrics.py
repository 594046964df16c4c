"""`GET /metrics`: the WebSocket gauges and counters in Prometheus' text format.

It reads them through two functions, not the hub itself: REST and WebSocket delivery stand
apart (an import-linter contract), and only the composition root knows both.
"""

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response


def metrics_endpoint(
    connections: Callable[[], int], counters: Callable[[], dict[str, int]]
) -> Callable[[Request], Awaitable[Response]]:
    async def metrics(request: Request) -> Response:
        lines = [
            "# TYPE realtime_connections gauge",
            f"realtime_connections {connections()}",
        ]
        for name, value in counters().items():
            lines += [f"# TYPE realtime_{name}_total counter", f"realtime_{name}_total {value}"]
        return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")

    return metrics

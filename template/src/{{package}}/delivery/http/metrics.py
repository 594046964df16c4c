"""`GET /metrics`: the hub's gauges and counters in Prometheus' text format."""

from collections.abc import Awaitable, Callable
from dataclasses import asdict

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from ..websocket.hub import Hub


def metrics_endpoint(hub: Hub) -> Callable[[Request], Awaitable[Response]]:
    async def metrics(request: Request) -> Response:
        lines = [
            "# TYPE realtime_connections gauge",
            f"realtime_connections {len(hub)}",
        ]
        for name, value in asdict(hub.stats).items():
            lines += [f"# TYPE realtime_{name}_total counter", f"realtime_{name}_total {value}"]
        return PlainTextResponse("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")

    return metrics

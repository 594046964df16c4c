"""The example browser client: `GET /` and its scripts under `/static`."""

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


async def index(request: Request) -> Response:
    return FileResponse(STATIC / "index.html")


def page_routes() -> list[BaseRoute]:
    return [Route("/", index), Mount("/static", StaticFiles(directory=STATIC), name="static")]

"""Which browser origins may open a WebSocket: the allow-list, else the same origin only."""

from urllib.parse import urlsplit

from starlette.datastructures import Headers


def origin_allowed(headers: Headers, allowed: frozenset[str]) -> bool:
    origin = headers.get("origin")
    if origin is None:
        return True  # not a browser: origins only protect browsers' ambient credentials
    if origin in allowed or "*" in allowed:
        return True
    return urlsplit(origin).netloc.lower() == headers.get("host", "").lower()

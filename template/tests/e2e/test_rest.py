"""REST: the same use cases as the WebSocket messages, with HTTP status codes."""

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.credentials import auth_headers
from tests.e2e.harness import WAIT, Server, log_records, running
from tests.e2e.test_websocket_errors import (
    DEFAULT_PAGE,
    LARGEST_PAGE,
    leaks_nothing,
    table_away,
)
from tests.samples import COLLECTION, REQUIRED_FIELDS, VIEW_KEYS, changed_data, valid_data


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The `error` object of a failed response, after checking its status and shape."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert isinstance(error, dict)
    assert error["code"] == code
    assert isinstance(error["message"], str)
    assert error["message"]
    return error


def fields_in(error: dict[str, Any]) -> set[str]:
    return {problem["field"] for problem in error["details"]}


async def create(http: httpx.AsyncClient, n: int = 0) -> dict[str, Any]:
    response = await http.post(COLLECTION, json=valid_data(n))
    assert response.status_code == 201, response.text
    entity = response.json()
    assert isinstance(entity, dict)
    return entity


async def test_health(http: httpx.AsyncClient) -> None:
    response = await http.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_create_answers_201_and_the_stored_entity(http: httpx.AsyncClient) -> None:
    response = await http.post(COLLECTION, json=valid_data())

    assert response.status_code == 201
    entity = response.json()
    assert set(entity) == VIEW_KEYS
    assert entity["version"] == 1
    assert {name: entity[name] for name in valid_data()} == valid_data()


async def test_get_answers_200_and_the_entity(http: httpx.AsyncClient) -> None:
    created = await create(http)

    response = await http.get(f"{COLLECTION}/{created['id']}")

    assert response.status_code == 200
    assert response.json() == created


async def test_list_answers_200_and_a_page(http: httpx.AsyncClient) -> None:
    first, second = await create(http, 1), await create(http, 2)
    count = (await http.get(COLLECTION, params={"limit": 1})).json()["total"]

    response = await http.get(COLLECTION, params={"limit": 2, "offset": count - 2})

    assert response.status_code == 200
    assert response.json() == {"items": [first, second], "total": count}


async def test_update_answers_200_and_the_changed_entity(http: httpx.AsyncClient) -> None:
    created = await create(http)

    response = await http.patch(f"{COLLECTION}/{created['id']}", json=changed_data())

    assert response.status_code == 200
    updated = response.json()
    assert updated["version"] == 2
    assert {name: updated[name] for name in changed_data()} == changed_data()
    assert (await http.get(f"{COLLECTION}/{created['id']}")).json() == updated


async def test_delete_answers_204_and_the_entity_is_gone(http: httpx.AsyncClient) -> None:
    created = await create(http)

    response = await http.delete(f"{COLLECTION}/{created['id']}")

    assert response.status_code == 204
    assert response.content == b""
    error_of(await http.get(f"{COLLECTION}/{created['id']}"), 404, "not_found")


async def test_a_body_that_is_not_json_is_400(http: httpx.AsyncClient) -> None:
    response = await http.post(
        COLLECTION, content=b"{nope", headers={"content-type": "application/json"}
    )

    error_of(response, 400, "invalid_json")


async def test_a_body_that_is_not_an_object_is_400(http: httpx.AsyncClient) -> None:
    response = await http.post(COLLECTION, json=[valid_data()])

    error_of(response, 400, "invalid_message")


async def test_an_unknown_field_is_422_with_details(http: httpx.AsyncClient) -> None:
    response = await http.post(COLLECTION, json=valid_data() | {"unexpected": 1})

    assert fields_in(error_of(response, 422, "validation_error")) == {"unexpected"}


@pytest.mark.skipif(not REQUIRED_FIELDS, reason="the entity has no required field")
async def test_missing_fields_are_422_with_details(http: httpx.AsyncClient) -> None:
    response = await http.post(COLLECTION, json={})

    error = error_of(response, 422, "validation_error")
    assert fields_in(error) == {field.name for field in REQUIRED_FIELDS}


async def test_a_bad_page_is_422(http: httpx.AsyncClient) -> None:
    response = await http.get(COLLECTION, params={"limit": 0})

    assert fields_in(error_of(response, 422, "validation_error")) == {"limit"}


@pytest.mark.parametrize(
    ("method", "body"),
    [("GET", None), ("PATCH", changed_data()), ("DELETE", None)],
)
async def test_an_unknown_id_is_404(
    http: httpx.AsyncClient, method: str, body: dict[str, Any] | None
) -> None:
    response = await http.request(method, f"{COLLECTION}/no-such-id", json=body)

    error_of(response, 404, "not_found")


async def test_a_stale_version_is_409(http: httpx.AsyncClient) -> None:
    created = await create(http)
    path = f"{COLLECTION}/{created['id']}"
    assert (await http.patch(path, json={"version": 1, **changed_data()})).status_code == 200

    response = await http.patch(path, json={"version": 1, **valid_data(1)})

    error_of(response, 409, "conflict")
    assert (await http.get(path)).json()["version"] == 2


async def alone(server: Server, method: str, path: str, **options: Any) -> httpx.Response:
    """One request, on a connection of its own."""
    async with httpx.AsyncClient(
        base_url=server.base_url, timeout=WAIT, headers=auth_headers()
    ) as http:
        return await http.request(method, path, **options)


def local_port(response: httpx.Response) -> int:
    """The client's port of the connection that carried `response`."""
    port: int = response.extensions["network_stream"].get_extra_info("client_addr")[1]
    return port


async def test_an_unexpected_failure_is_500_with_the_error_shape_and_no_trace(
    tmp_path: Path,
) -> None:
    with running(tmp_path) as server:
        with table_away(server.database):
            created = await alone(server, "POST", COLLECTION, json=valid_data())
            listed = await alone(server, "GET", COLLECTION)
        recovered = await alone(server, "POST", COLLECTION, json=valid_data())

    for response in (created, listed):
        assert set(error_of(response, 500, "internal_error")) == {"code", "message"}
        assert response.headers["content-type"] == "application/json"
        assert leaks_nothing(response.text), response.text
    assert recovered.status_code == 201
    assert "no such table" in server.output()  # operators get the cause instead


async def test_a_500_keeps_the_connection_and_logs_the_trace_once(tmp_path: Path) -> None:
    with running(tmp_path) as server:
        async with httpx.AsyncClient(
            base_url=server.base_url, timeout=WAIT, headers=auth_headers()
        ) as http:
            with table_away(server.database):
                failed = await http.get(COLLECTION)
                failed_on = local_port(failed)
            health = await http.get("/health")
            health_on = local_port(health)

    assert failed.status_code == 500
    assert health.status_code == 200
    assert health_on == failed_on  # the same connection, kept alive
    assert [record["level"] for record in log_records(server)].count("error") == 1


# The bounds of a page.


async def stored_at_least(http: httpx.AsyncClient, count: int) -> int:
    """Create entities until the service holds `count` or more; returns how many it holds."""
    total: int = (await http.get(COLLECTION, params={"limit": 1})).json()["total"]
    while total < count:
        batch = range(min(50, count - total))
        responses = await asyncio.gather(
            *(http.post(COLLECTION, json=valid_data(n)) for n in batch)
        )
        assert [response.status_code for response in responses] == [201] * len(batch)
        total = (await http.get(COLLECTION, params={"limit": 1})).json()["total"]
    return total


async def test_a_page_without_limit_or_offset_is_the_first_fifty(
    http: httpx.AsyncClient,
) -> None:
    total = await stored_at_least(http, DEFAULT_PAGE + 1)

    response = await http.get(COLLECTION)

    assert response.status_code == 200
    page = response.json()
    assert len(page["items"]) == DEFAULT_PAGE
    assert page["total"] == total
    first = await http.get(COLLECTION, params={"limit": DEFAULT_PAGE, "offset": 0})
    assert page == first.json()


async def test_the_largest_page_is_500_and_501_is_422(http: httpx.AsyncClient) -> None:
    await stored_at_least(http, LARGEST_PAGE + 1)

    largest = await http.get(COLLECTION, params={"limit": LARGEST_PAGE})
    refused = await http.get(COLLECTION, params={"limit": LARGEST_PAGE + 1})

    assert largest.status_code == 200
    assert len(largest.json()["items"]) == LARGEST_PAGE
    assert fields_in(error_of(refused, 422, "validation_error")) == {"limit"}


async def test_a_negative_offset_is_422_and_one_past_the_end_is_empty(
    http: httpx.AsyncClient,
) -> None:
    total = await stored_at_least(http, 1)

    refused = await http.get(COLLECTION, params={"offset": -1})
    past_the_end = await http.get(COLLECTION, params={"offset": total})

    assert fields_in(error_of(refused, 422, "validation_error")) == {"offset"}
    assert past_the_end.status_code == 200
    assert past_the_end.json() == {"items": [], "total": total}

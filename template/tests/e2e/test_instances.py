"""Several instances on one Redis (BACKPLANE_URL) and one database: real processes, real Redis.

Each test starts its own private redis-server (tests/servers/redis.py) and service processes
on free ports. Events made on one instance reach clients of the others; Redis going away and
coming back degrades the instances and then heals them, without a restart.
"""

import asyncio
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.e2e.credentials import auth_headers
from tests.e2e.harness import (
    START_TIMEOUT,
    WAIT,
    Server,
    free_port,
    new_id,
    open_peer,
    running,
    service_env,
)
from tests.e2e.link import link_to
from tests.samples import COLLECTION, PACKAGE, changed_data, message_type, valid_data
from tests.servers.postgres import running_postgres
from tests.servers.redis import RedisServer, TlsRedisServer

pytestmark = pytest.mark.servers
CREATE = message_type("create")
RECOVERY = 30.0  # seconds an instance may take to notice Redis left, or came back


async def create_over_rest(server: Server, n: int) -> str:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=WAIT) as http:
        response = await http.post(COLLECTION, json=valid_data(n), headers=auth_headers())
    assert response.status_code == 201, response.text
    entity_id: str = response.json()["id"]
    return entity_id


async def readiness(server: Server) -> tuple[int, dict[str, str]]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=WAIT) as http:
        response = await http.get("/ready")
    return response.status_code, response.json()


async def wait_for_readiness(server: Server, status: int) -> dict[str, str]:
    deadline = time.monotonic() + RECOVERY
    while True:
        found, body = await readiness(server)
        if found == status:
            return body
        assert time.monotonic() < deadline, f"/ready is still {found} {body}"
        await asyncio.sleep(0.2)


async def test_an_entity_made_on_one_instance_is_an_event_on_every_other(
    tmp_path: Path, redis: RedisServer
) -> None:
    database = tmp_path / "shared.sqlite3"
    with (
        running(tmp_path, database, BACKPLANE_URL=redis.url) as a,
        running(tmp_path, database, BACKPLANE_URL=redis.url) as b,
        running(tmp_path, database, BACKPLANE_URL=redis.url) as c,
    ):
        async with open_peer(a, "alice") as on_a, open_peer(c, "carol") as on_c:
            first = await create_over_rest(b, 1)
            second = await create_over_rest(b, 2)

            for peer in (on_a, on_c):
                await peer.event(message_type("created"), first)
                await peer.event(message_type("created"), second)
                # Redis keeps B's order: a copy of the first would have come before the second.
                assert [e for e in peer.events if e["data"].get("id") == first] == []


async def total(server: Server) -> int:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=WAIT) as http:
        response = await http.get(COLLECTION, headers=auth_headers())
    assert response.status_code == 200, response.text
    count: int = response.json()["total"]
    return count


async def test_instances_meet_through_redis_over_tls(
    tmp_path: Path, tls_redis: TlsRedisServer
) -> None:
    database = tmp_path / "shared.sqlite3"
    with (
        running(tmp_path, database, BACKPLANE_URL=tls_redis.tls_url) as a,
        running(tmp_path, database, BACKPLANE_URL=tls_redis.tls_url) as b,
    ):
        async with open_peer(a, "alice") as on_a:
            created = await create_over_rest(b, 1)
            await on_a.event(message_type("created"), created)
        assert await readiness(a) == (200, {"status": "ready"})

    for server in (a, b):
        assert tls_redis.password not in server.output()


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "kill-9"])
async def test_a_write_whose_reply_was_lost_is_answered_by_another_instance_once(
    tmp_path: Path, redis: RedisServer, stop: signal.Signals
) -> None:
    """The write commits with its receipt; the instance dies before the client hears back;
    the client re-sends to another instance and gets the first reply; one row exists."""
    database = tmp_path / "shared.sqlite3"
    with (
        running(tmp_path, database, BACKPLANE_URL=redis.url) as a,
        running(tmp_path, database, BACKPLANE_URL=redis.url) as b,
    ):
        before = await total(b)
        request_id = new_id()
        request = {"type": CREATE, "id": request_id, "data": valid_data(5)}
        with link_to(a) as link:
            async with connect(link.ws_url, additional_headers=auth_headers()) as lost:
                link.lose_replies()
                await lost.send(json.dumps(request))
                deadline = time.monotonic() + WAIT
                while await total(b) == before:
                    assert time.monotonic() < deadline, "the write never happened"
                    await asyncio.sleep(0.05)
                a.process.send_signal(stop)
                a.process.wait(WAIT)

        async with open_peer(b, join=False) as again:
            await again.send(request)
            reply = await again.reply_to(request_id)

        assert reply["type"] == "ack", reply
        assert await total(b) == before + 1
        async with httpx.AsyncClient(base_url=b.base_url, timeout=WAIT) as http:
            stored = await http.get(f"{COLLECTION}/{reply['data']['id']}", headers=auth_headers())
        assert stored.json() == reply["data"]


async def test_readiness_follows_redis_away_and_back_and_delivery_resumes(
    tmp_path: Path, redis: RedisServer
) -> None:
    database = tmp_path / "shared.sqlite3"
    with (
        running(tmp_path, database, BACKPLANE_URL=redis.url, LOG_FORMAT="text") as a,
        running(tmp_path, database, BACKPLANE_URL=redis.url, LOG_FORMAT="text") as b,
    ):
        assert await readiness(a) == (200, {"status": "ready"})

        redis.stop()
        body = await wait_for_readiness(a, 503)
        assert body["status"] == "degraded"
        assert "Redis" in body["reason"]
        # Degraded, an instance still serves its own clients.
        async with open_peer(a, "alice") as on_a:
            made_here = await create_over_rest(a, 3)
            await on_a.event(message_type("created"), made_here)

        redis.start()  # on the same port, empty
        await wait_for_readiness(a, 200)
        await wait_for_readiness(b, 200)
        async with open_peer(a, "alice") as on_a:
            made_there = await create_over_rest(b, 4)
            await on_a.event(message_type("created"), made_there)

    for server in (a, b):
        assert server.process.returncode == 0
        assert redis.password not in server.output()
        assert "Traceback" not in server.output()


async def test_instances_on_postgresql_share_entities_and_ride_out_its_absence(
    tmp_path: Path, redis: RedisServer
) -> None:
    with running_postgres() as postgres:
        shared = {"BACKPLANE_URL": redis.url, "DATABASE_URL": postgres.create_database()}
        with (
            running(tmp_path, None, LOG_FORMAT="text", **shared) as a,
            running(tmp_path, None, LOG_FORMAT="text", **shared) as b,
        ):
            http = httpx.AsyncClient(timeout=WAIT, headers=auth_headers())
            created = (await http.post(f"{a.base_url}{COLLECTION}", json=valid_data(1))).json()
            # Both instances change version 1 at once: exactly one of them wins.
            change = changed_data() | {"version": 1}
            answers = await asyncio.gather(
                *(
                    http.patch(f"{server.base_url}{COLLECTION}/{created['id']}", json=change)
                    for server in (a, b)
                )
            )
            assert sorted(answer.status_code for answer in answers) == [200, 409]

            postgres.stop()
            refused = await http.post(f"{b.base_url}{COLLECTION}", json=valid_data(2))
            assert refused.status_code == 500
            assert refused.json()["error"]["code"] == "internal_error"
            body = await wait_for_readiness(b, 503)
            assert body == {"status": "degraded", "reason": body["reason"]}
            assert "database" in body["reason"]

            postgres.start()
            await wait_for_readiness(b, 200)
            again = await http.post(f"{b.base_url}{COLLECTION}", json=valid_data(2))
            assert again.status_code == 201, again.text
            assert (await http.get(f"{a.base_url}{COLLECTION}")).json()["total"] == 2
            await http.aclose()

    for server in (a, b):
        assert server.process.returncode == 0
        assert postgres.password not in server.output()


def test_an_unreachable_redis_stops_the_start_up(tmp_path: Path) -> None:
    port, nobody = free_port(), free_port()
    url = f"redis://:hunter2-secret@127.0.0.1:{nobody}/0"
    finished = subprocess.run(
        [sys.executable, "-m", PACKAGE],
        cwd=tmp_path,
        # The refusal alone: not the log of the new database's upgrade before it.
        env=service_env(port, tmp_path / "db.sqlite3", BACKPLANE_URL=url, LOG_LEVEL="warning"),
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
        check=False,
    )

    said = finished.stdout + finished.stderr
    assert finished.returncode == 1, said
    assert f"BACKPLANE_URL redis://:***@127.0.0.1:{nobody}/0: cannot reach Redis" in said
    assert "leave BACKPLANE_URL empty" in said
    assert len(said.strip().splitlines()) == 1, said
    assert "hunter2-secret" not in said
    assert "Traceback" not in said

"""Entity operations, ping, events and idempotency over WebSocket, against the real service."""

from collections.abc import Iterable
from pathlib import Path

import httpx

from tests.e2e.harness import Frame, Peer, Server, moment, new_id, open_peer, running
from tests.samples import (
    COLLECTION,
    FIELDS,
    VIEW_KEYS,
    changed_data,
    message_type,
    valid_data,
)

CREATE = message_type("create")
GET = message_type("get")
LIST = message_type("list")
UPDATE = message_type("update")
DELETE = message_type("delete")
CREATED = message_type("created")
UPDATED = message_type("updated")
DELETED = message_type("deleted")


def pick(entity: Frame, names: Iterable[str]) -> Frame:
    return {name: entity[name] for name in names}


def assert_has_fields(entity: Frame, data: Frame) -> None:
    assert pick(entity, data) == data


async def total(peer: Peer) -> int:
    count = (await peer.ack(LIST, {"limit": 1}))["total"]
    assert isinstance(count, int)
    return count


async def test_create_acks_the_stored_entity(peer: Peer) -> None:
    request_id = new_id()

    reply = await peer.request(CREATE, valid_data(), request_id)

    assert reply["type"] == "ack"
    assert reply["id"] == request_id
    moment(reply["timestamp"])
    entity = reply["data"]
    assert set(entity) == VIEW_KEYS
    assert isinstance(entity["id"], str)
    assert entity["id"]
    assert entity["version"] == 1
    assert moment(entity["created_at"]) == moment(entity["updated_at"])
    assert_has_fields(entity, valid_data())


async def test_get_acks_the_entity(peer: Peer) -> None:
    created = await peer.ack(CREATE, valid_data(1))

    assert await peer.ack(GET, {"id": created["id"]}) == created


async def test_list_acks_a_page_and_the_total(peer: Peer) -> None:
    first = await peer.ack(CREATE, valid_data(2))
    second = await peer.ack(CREATE, valid_data(3))
    count = await total(peer)

    page = await peer.ack(LIST, {"limit": 2, "offset": count - 2})

    assert page == {"items": [first, second], "total": count}
    assert await peer.ack(LIST, {"limit": 1, "offset": count}) == {"items": [], "total": count}


async def test_list_without_data_gets_the_first_page(peer: Peer) -> None:
    await peer.ack(CREATE, valid_data())

    reply = await peer.request(LIST)

    assert reply["type"] == "ack"
    assert 1 <= len(reply["data"]["items"]) <= reply["data"]["total"]
    assert all(set(item) == VIEW_KEYS for item in reply["data"]["items"])


async def test_update_acks_the_changed_entity(peer: Peer) -> None:
    created = await peer.ack(CREATE, valid_data())

    updated = await peer.ack(UPDATE, {"id": created["id"], **changed_data()})

    assert_has_fields(updated, changed_data())
    assert updated["version"] == 2
    assert updated["created_at"] == created["created_at"]
    assert moment(updated["updated_at"]) > moment(created["updated_at"])
    untouched = {field.name for field in FIELDS} - set(changed_data())
    assert pick(updated, untouched) == pick(created, untouched)
    again = await peer.ack(UPDATE, {"id": created["id"], "version": 2, **valid_data(4)})
    assert again["version"] == 3
    assert await peer.ack(GET, {"id": created["id"]}) == again


async def test_delete_acks_the_id(peer: Peer) -> None:
    created = await peer.ack(CREATE, valid_data())

    assert await peer.ack(DELETE, {"id": created["id"]}) == {"id": created["id"]}

    gone = await peer.request(GET, {"id": created["id"]})
    assert gone["type"] == "error"
    assert gone["data"]["code"] == "not_found"


async def test_ping_gets_a_pong_with_the_same_id(peer: Peer) -> None:
    request_id = new_id()

    reply = await peer.request("ping", {"sent": "now"}, request_id)

    assert reply["type"] == "pong"
    assert reply["id"] == request_id
    moment(reply["timestamp"])
    bare = await peer.request("ping")
    assert bare["type"] == "pong"


async def test_frames_of_every_length_arrive_whole(tmp_path: Path) -> None:
    # A frame's length takes 7 bits, 16 bits or 64 bits: each padding lands in one class.
    with running(tmp_path, MAX_MESSAGE_BYTES="200000") as server:
        async with open_peer(server) as peer:
            for padding in [0, 100, 1_000, 100_000]:
                data = {"padding": "x" * padding, "text": "é € 😀"}

                reply = await peer.request("ping", data)

                assert reply["type"] == "pong"
                assert reply["data"] == data


async def test_requests_sent_back_to_back_are_answered_in_order(peer: Peer) -> None:
    # The service reads ahead of the handler; the order must survive that.
    ids = [new_id() for _ in range(50)]
    for request_id in ids:
        await peer.send({"type": "ping", "id": request_id, "data": {}})

    replies = [await peer.receive() for _ in ids]

    assert [reply["id"] for reply in replies] == ids
    assert {reply["type"] for reply in replies} == {"pong"}


async def test_with_compression_on_frames_are_deflated_and_arrive_whole(tmp_path: Path) -> None:
    with running(tmp_path, WS_COMPRESSION="true") as server:
        async with open_peer(server, compression="deflate") as deflating:
            data = {"padding": "x" * 10_000}
            reply = await deflating.request("ping", data)
            extensions = deflating.connection.protocol.extensions

    assert [extension.name for extension in extensions] == ["permessage-deflate"]
    assert reply["data"] == data


async def test_changes_reach_every_open_connection(server: Server, peer: Peer) -> None:
    async with open_peer(server) as watcher:
        await watcher.request("ping")  # registered before the change below

        created = await peer.ack(CREATE, valid_data())
        updated = await peer.ack(UPDATE, {"id": created["id"], **changed_data()})
        await peer.ack(DELETE, {"id": created["id"]})

        events = [
            await watcher.event(CREATED, created["id"]),
            await watcher.event(UPDATED, created["id"]),
            await watcher.event(DELETED, created["id"]),
        ]
        assert [event["data"] for event in events] == [created, updated, {"id": created["id"]}]
        for event in events:
            assert isinstance(event["id"], str)
            assert event["id"]
            moment(event["timestamp"])
        assert len({event["id"] for event in events}) == 3
    own = await peer.event(CREATED, created["id"])  # the author hears about it too
    assert own["data"] == created


async def test_rest_changes_reach_websocket_clients(peer: Peer, http: httpx.AsyncClient) -> None:
    await peer.request("ping")

    created = (await http.post(COLLECTION, json=valid_data())).json()
    updated = (await http.patch(f"{COLLECTION}/{created['id']}", json=changed_data())).json()
    await http.delete(f"{COLLECTION}/{created['id']}")

    assert (await peer.event(CREATED, created["id"]))["data"] == created
    assert (await peer.event(UPDATED, created["id"]))["data"] == updated
    assert (await peer.event(DELETED, created["id"]))["data"] == {"id": created["id"]}


async def test_rest_and_websocket_see_the_same_data(peer: Peer, http: httpx.AsyncClient) -> None:
    over_ws = await peer.ack(CREATE, valid_data(5))
    over_rest = (await http.post(COLLECTION, json=valid_data(6))).json()

    assert (await http.get(f"{COLLECTION}/{over_ws['id']}")).json() == over_ws
    assert await peer.ack(GET, {"id": over_rest["id"]}) == over_rest
    count = await total(peer)
    page = (await http.get(COLLECTION, params={"limit": 2, "offset": count - 2})).json()
    assert page == await peer.ack(LIST, {"limit": 2, "offset": count - 2})
    assert page == {"items": [over_ws, over_rest], "total": count}


async def test_a_resent_request_gets_the_same_reply_and_runs_once(peer: Peer) -> None:
    before = await total(peer)
    request_id = new_id()

    first = await peer.request(CREATE, valid_data(), request_id)
    again = await peer.request(CREATE, valid_data(), request_id)

    assert first["type"] == "ack"
    assert again == first
    assert await total(peer) == before + 1


async def test_a_request_resent_after_a_reconnect_runs_once(server: Server) -> None:
    request_id = new_id()
    async with open_peer(server) as first_connection:
        before = await total(first_connection)
        first = await first_connection.request(CREATE, valid_data(), request_id)

    async with open_peer(server) as second_connection:
        again = await second_connection.request(CREATE, valid_data(), request_id)
        assert again == first
        assert await total(second_connection) == before + 1
        assert await second_connection.ack(GET, {"id": first["data"]["id"]}) == first["data"]


async def test_an_id_used_again_for_another_request_is_a_conflict(peer: Peer) -> None:
    request_id = new_id()
    first = await peer.request(CREATE, valid_data(1), request_id)

    other_data = await peer.request(CREATE, valid_data(2), request_id)
    other_type = await peer.request(LIST, {}, request_id)

    for refused in (other_data, other_type):
        assert refused["type"] == "error", refused
        assert refused["id"] == request_id
        assert refused["data"]["code"] == "conflict"
        assert "already used for another request" in refused["data"]["message"]
    assert await peer.request(CREATE, valid_data(1), request_id) == first


async def test_a_resent_delete_is_acked_again_not_refused(peer: Peer) -> None:
    created = await peer.ack(CREATE, valid_data())
    request_id = new_id()

    first = await peer.request(DELETE, {"id": created["id"]}, request_id)
    again = await peer.request(DELETE, {"id": created["id"]}, request_id)

    assert first["type"] == "ack"
    assert again == first


async def test_a_client_timestamp_is_accepted(peer: Peer) -> None:
    request_id = new_id()
    sent_at = "2001-01-01T00:00:00Z"
    await peer.send({"type": "ping", "id": request_id, "timestamp": sent_at})

    reply = await peer.reply_to(request_id)

    assert reply["type"] == "pong"
    assert moment(reply["timestamp"]) > moment(sent_at)  # replies carry the server's time


async def test_a_pong_from_the_client_gets_no_reply(peer: Peer) -> None:
    await peer.send({"type": "pong", "id": "unsolicited"})

    reply = await peer.request("ping")

    assert reply["type"] == "pong"
    assert peer.events == []  # nothing else arrived before the pong


async def test_the_protocol_subprotocol_is_selected_when_offered(server: Server) -> None:
    async with open_peer(server, subprotocols=["realtime.v1"]) as offering:
        assert offering.connection.subprotocol == "realtime.v1"
        assert (await offering.request("ping"))["type"] == "pong"
    async with open_peer(server) as plain:
        assert plain.connection.subprotocol is None

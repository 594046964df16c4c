"""Prepared frames: the bytes are what a WebSocket library makes of the same text frame."""

import pytest
from websockets.frames import Frame, Opcode

from tests.unit.fakes import FakeSocket, eventually, new_client
from tests.unit.service_classes import text_frame


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65_535, 65_536, 1_000_000])
def test_a_text_frame_is_serialized_as_the_websocket_library_does(size: int) -> None:
    payload = ("é" * size).encode()[:size]

    expected = Frame(Opcode.TEXT, payload).serialize(mask=False, extensions=[])

    assert text_frame(payload) == expected


class Writer:
    """A prepared-frame writer that accepts frames until told to push back."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.accepting = True

    def __call__(self, frame: bytes) -> bool:
        if self.accepting:
            self.frames.append(frame)
        return self.accepting


async def test_a_client_with_a_writer_sends_prepared_frames_and_skips_the_asgi_send() -> None:
    socket, writer = FakeSocket(), Writer()
    client = new_client(socket, write=writer)

    client.deliver('{"type":"a"}', text_frame(b'{"type":"a"}'))
    client.deliver('{"type":"b"}')  # a reply to one peer: serialized on the way

    assert writer.frames == [text_frame(b'{"type":"a"}'), text_frame(b'{"type":"b"}')]
    assert socket.texts == []


async def test_when_the_writer_pushes_back_frames_go_through_the_backlog_in_order() -> None:
    socket, writer = FakeSocket(), Writer()
    client = new_client(socket, write=writer)
    socket.stall()
    writer.accepting = False

    client.deliver("1")
    writer.accepting = True
    client.deliver("2")  # behind "1" in the backlog, not past it through the writer

    assert writer.frames == []
    socket.resume()
    await eventually(lambda: len(socket.texts) == 2)
    assert socket.texts == ["1", "2"]

"""A TCP link between clients and the service that a test can break the way networks break.

Clients dial the link instead of the service; each connection is carried through to the
service, byte for byte, until the test interferes: it can lose what the service sends back
(the requests still arrive and run), cut every connection without a close frame, or refuse
new connections for a while, or carry new connections to another instance. The service and
the clients stay real; only the wire fails.
"""

import contextlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from tests.e2e.harness import Server

CHUNK = 65536


class Carried:
    """One client connection carried through to the service by two pumping threads."""

    def __init__(self, client: socket.socket, service: socket.socket) -> None:
        self.client = client
        self.service = service
        self.losing_replies = False
        self.pumps = [
            threading.Thread(target=self._pump, args=(client, service, False), daemon=True),
            threading.Thread(target=self._pump, args=(service, client, True), daemon=True),
        ]
        for pump in self.pumps:
            pump.start()

    def _pump(self, source: socket.socket, sink: socket.socket, from_service: bool) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(CHUNK):
                if not (from_service and self.losing_replies):
                    sink.sendall(data)
        self.cut()

    def cut(self) -> None:
        """End both sides at once, as a broken network does: no close frame, no goodbye."""
        for side in (self.client, self.service):
            with contextlib.suppress(OSError):
                side.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.cut()
        for pump in self.pumps:
            pump.join(timeout=5)
        self.client.close()
        self.service.close()


class Link:
    """Listens on a free loopback port and carries every connection to the service."""

    def __init__(self, service_port: int) -> None:
        self._service = ("127.0.0.1", service_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._carried: list[Carried] = []
        self._refusing = False
        self._acceptor = threading.Thread(target=self._accept, daemon=True)
        self._acceptor.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def lose_replies(self) -> None:
        """From now on, what the service sends on the open connections never arrives."""
        with self._lock:
            for carried in self._carried:
                carried.losing_replies = True

    def cut(self) -> None:
        """End every open connection abruptly; new ones are carried as before."""
        with self._lock:
            for carried in self._carried:
                carried.cut()

    def down(self) -> None:
        """Cut every open connection and end new ones as soon as they are made, until `up`."""
        with self._lock:
            self._refusing = True
        self.cut()

    def up(self) -> None:
        with self._lock:
            self._refusing = False

    def retarget(self, service_port: int) -> None:
        """Carry new connections to another service from now on, as a load balancer does
        once an instance has gone."""
        with self._lock:
            self._service = ("127.0.0.1", service_port)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the acceptor
        self._listener.close()
        self._acceptor.join(timeout=5)
        with self._lock:
            carried, self._carried = self._carried, []
        for one in carried:
            one.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # the link was closed
            with self._lock:
                refusing = self._refusing
            if refusing:
                client.close()
                continue
            with self._lock:
                target = self._service
            try:
                service = socket.create_connection(target, timeout=5)
            except OSError:
                client.close()
                continue
            service.settimeout(None)
            with self._lock:
                self._carried.append(Carried(client, service))


@contextmanager
def link_to(server: Server) -> Iterator[Link]:
    link = Link(server.port)
    try:
        yield link
    finally:
        link.close()

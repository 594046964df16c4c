"""The example page at `/` in real headless Chromium: live updates across tabs, reconnection,
the backoff between attempts, and requests re-sent with their ids after a connection drops.

Chromium's own reports count too: a console error or warning, an uncaught exception, a failed
request or an HTTP error on any page a test opens fails the test, unless the test provokes it
on purpose and says so (`Troubles.expect`). test_page.py uses the helpers here.

Chromium comes from the system (Debian's `chromium` package); without it these tests are
skipped, unless REQUIRE_BROWSER is set (as CI does), when they fail instead.
"""

import itertools
import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    Request,
    Response,
    WebSocket,
    expect,
    sync_playwright,
)

from tests.e2e.credentials import auth_headers, token_for
from tests.e2e.harness import WAIT, Server, free_port
from tests.e2e.link import link_to
from tests.e2e.test_python_client import service_on
from tests.samples import AUTH, COLLECTION, ENTITY, FIELDS, ROOMS, FieldSpec

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT = 10_000  # milliseconds
RECONNECT_TIMEOUT = 40_000  # milliseconds: a few backoff windows on a loaded machine

if CHROMIUM is None and os.environ.get("REQUIRE_BROWSER"):
    raise RuntimeError("REQUIRE_BROWSER is set but no chromium is installed")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine")


# What a service that is down or restarting makes Chromium report: the page's WebSocket
# attempts fail, and so do its HTTP requests (the token check between attempts).
OUTAGE = (
    r"^console error: WebSocket connection to '\S+' failed",
    r"^console error: Failed to load resource: net::ERR_",
    r"^failed GET \S+: net::ERR_",
    r"^HTTP 503 ",
)


@contextmanager
def launched() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched() as browser:
        yield browser


class Troubles:
    """What Chromium reported going wrong on the pages of one test, one line each."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        self.expected: list[re.Pattern[str]] = []
        self.pages: list[Page] = []

    def watch(self, page: Page) -> None:
        self.pages.append(page)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.seen.append(f"uncaught {error}"))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in {"error", "warning"}:
            self.seen.append(f"console {message.type}: {message.text}")

    def _failed(self, request: Request) -> None:
        # Cancelled by the browser itself, as a page that navigates or closes does: no failure.
        if request.failure != "net::ERR_ABORTED":
            self.seen.append(f"failed {request.method} {request.url}: {request.failure}")

    def _response(self, response: Response) -> None:
        if response.status >= 400:
            self.seen.append(f"HTTP {response.status} {response.request.method} {response.url}")

    def expect(self, *patterns: str) -> None:
        """Reports matching one of `patterns` (regular expressions) are part of the test."""
        self.expected.extend(re.compile(pattern) for pattern in patterns)

    def unexpected(self) -> list[str]:
        return [line for line in self.seen if not any(p.search(line) for p in self.expected)]


WATCHING: list[Troubles] = []  # the running test's, while the `troubles` fixture is active


def close_pages() -> None:
    """Close the pages the running test opened, before their service goes: left open, they
    would rightly report the stop as an outage."""
    for troubles in WATCHING:
        while troubles.pages:
            troubles.pages.pop().context.close()


@contextmanager
def serving(port: int, workdir: Path, **settings: str) -> Iterator[Server]:
    """`service_on` for the pages of a test: they are closed before the service stops."""
    with service_on(port, workdir, **settings) as server:
        try:
            yield server
        finally:
            close_pages()


@contextmanager
def watching() -> Iterator[Troubles]:
    """Watch every page opened meanwhile; close them at the end and fail on unexpected reports."""
    troubles = Troubles()
    WATCHING.append(troubles)
    try:
        yield troubles
    finally:
        close_pages()
        WATCHING.remove(troubles)
    assert troubles.unexpected() == [], troubles.seen


@pytest.fixture(autouse=True)
def troubles() -> Iterator[Troubles]:
    with watching() as troubles:
        yield troubles


def new_page(browser: Browser, **context: Any) -> Page:
    """A page in a context of its own (`context`: options such as `viewport`), watched."""
    page = browser.new_context(**context).new_page()
    page.set_default_timeout(TIMEOUT)
    for troubles in WATCHING:
        troubles.watch(page)
    return page


def sign_in(page: Page, base_url: str, subject: str) -> None:
    """Load the page from `base_url`, sign in as `subject`, and wait until it is connected."""
    page.goto(base_url)
    if AUTH != "none":
        page.fill("#token", token_for(subject) or "")
        page.click("#sign-in button")
    expect(page.locator("#status")).to_have_attribute("data-state", "connected")


def open_page(browser: Browser, server: Server, subject: str) -> Page:
    page = new_page(browser)
    sign_in(page, server.base_url, subject)
    return page


class Wire:
    """Every frame the page's WebSockets send and receive, as Chromium itself reports them.

    Each frame is kept with the number of the WebSocket it went over (0 for the page's first).
    Create it before the page loads, so that no WebSocket is missed.
    """

    def __init__(self, page: Page) -> None:
        self.sent: list[tuple[int, dict[str, Any]]] = []
        self.received: list[tuple[int, dict[str, Any]]] = []
        self._sockets = 0
        page.on("websocket", self._opened)

    def _opened(self, socket: WebSocket) -> None:
        number = self._sockets
        self._sockets += 1
        socket.on("framesent", lambda payload: self.sent.append((number, json.loads(payload))))
        socket.on(
            "framereceived", lambda payload: self.received.append((number, json.loads(payload)))
        )


def stored_entities(server: Server) -> list[dict[str, Any]]:
    """The entities the service holds, asked over HTTP straight from the service."""
    response = httpx.get(f"{server.base_url}{COLLECTION}", headers=auth_headers(), timeout=WAIT)
    response.raise_for_status()
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def wait_until_stored(server: Server, count: int) -> None:
    deadline = time.monotonic() + TIMEOUT / 1000
    while len(stored_entities(server)) < count:
        assert time.monotonic() < deadline, f"the service did not store {count} in time"
        time.sleep(0.05)


def form_value(field: FieldSpec, n: int) -> str:
    if field.email:
        return f"ada{n}@example.com"
    return {
        "str": f"Ada {n}",
        "int": str(40 + n),
        "float": f"{n}.5",
        "datetime": f"2026-01-0{n % 9 + 1}T10:00:00",
    }[field.kind]


def create_in(page: Page, n: int) -> str:
    """Fill the form with valid values and submit it; the first field's value."""
    for field in FIELDS:
        if field.kind == "bool":
            page.set_checked(f"#field-{field.name}", n % 2 == 0)
        elif not field.optional:
            page.fill(f"#field-{field.name}", form_value(field, n))
    page.click("#save")
    first = FIELDS[0]
    return form_value(first, n) if first.kind != "bool" else ""


def test_an_entity_created_in_one_tab_appears_in_another(browser: Browser, tmp_path: Path) -> None:
    with serving(free_port(), tmp_path) as server:
        watcher = open_page(browser, server, "alice")
        author = open_page(browser, server, "bob")

        shown = create_in(author, 1)

        expect(watcher.locator("#count")).to_have_text("1")
        expect(watcher.locator("#rows tr")).to_have_count(1)
        expect(watcher.locator("#rows tr").first).to_contain_text(shown)
        expect(author.locator("#error")).to_have_text("")


def test_the_page_reconnects_after_a_restart(
    browser: Browser, tmp_path: Path, troubles: Troubles
) -> None:
    troubles.expect(*OUTAGE)
    port = free_port()
    with service_on(port, tmp_path) as first:
        watcher = open_page(browser, first, "alice")
        author = open_page(browser, first, "bob")
        create_in(author, 1)
        expect(watcher.locator("#count")).to_have_text("1")

    expect(watcher.locator("#status")).not_to_have_attribute("data-state", "connected")
    with serving(port, tmp_path):
        connected = "data-state"
        expect(watcher.locator("#status")).to_have_attribute(connected, "connected", timeout=40_000)
        expect(author.locator("#status")).to_have_attribute(connected, "connected", timeout=40_000)

        shown = create_in(author, 2)

        expect(watcher.locator("#count")).to_have_text("2")
        expect(watcher.locator("#rows")).to_contain_text(shown)


@pytest.mark.skipif(not ROOMS, reason="rooms are off")
def test_two_tabs_chat_in_a_room(browser: Browser, tmp_path: Path) -> None:
    with serving(free_port(), tmp_path) as server:
        alice = open_page(browser, server, "alice")
        bob = open_page(browser, server, "bob")
        for page in (alice, bob):
            page.fill("#room", "lobby")
            page.click("#join-form button")
            expect(page.locator("#say")).to_be_enabled()

        alice.fill("#message", "hello from alice")
        alice.click("#say")

        expect(bob.locator("#messages")).to_contain_text("hello from alice")


# The backoff between reconnection attempts (docs/websocket.md, "Reconnecting").

BACKOFF_RULE = """async () => {
  const { backoffDelay } = await import("/static/realtime.js");
  const fixed = (fraction) => () => fraction;
  const fractions = [0, 0.5, 0.25, 0.9, 0.1, 0.75, 0.3, 0.999];
  const tenths = new Array(10).fill(0);
  for (let n = 0; n < 3000; n += 1) {
    const delay = backoffDelay(12);  // the page's own random source, at the cap
    if (delay < 0 || delay > 30000) return { outside: delay };
    tenths[Math.min(Math.floor(delay / 3000), 9)] += 1;
  }
  return {
    windows: [...Array(10).keys()].map((attempt) => backoffDelay(attempt, { random: fixed(1) })),
    drawn: fractions.map((fraction, attempt) => backoffDelay(attempt, { random: fixed(fraction) })),
    afterAnyOutage: backoffDelay(5000, { random: fixed(1) }),
    tenths,
  };
}"""


def test_the_page_backs_off_from_half_a_second_to_thirty_with_full_jitter(
    browser: Browser, tmp_path: Path
) -> None:
    with serving(free_port(), tmp_path) as server:
        page = open_page(browser, server, "alice")
        rule = page.evaluate(BACKOFF_RULE)

    windows = [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000]
    fractions = [0, 0.5, 0.25, 0.9, 0.1, 0.75, 0.3, 0.999]
    assert rule["windows"] == windows
    assert rule["drawn"] == pytest.approx([f * w for f, w in zip(fractions, windows, strict=False)])
    assert rule["afterAnyOutage"] == 30000
    # Uniform over the whole window: about 300 draws in each tenth; 200 to 400 is over six
    # standard deviations each way.
    assert all(200 <= count <= 400 for count in rule["tenths"]), rule


PROBE = """async ({ url, token }) => {
  const { RealtimeClient } = await import("/static/realtime.js");
  const probe = new RealtimeClient(url, { token, random: () => 1 });  // delays = windows
  window.statuses = [];
  probe.addEventListener("status", ({ detail }) => window.statuses.push(detail));
  probe.connect();
}"""


def statuses_seen(page: Page, state: str, count: int) -> None:
    """Wait until the probe has reported `state` at least `count` times."""
    page.wait_for_function(
        "([state, count]) => window.statuses.filter((s) => s.state === state).length >= count",
        arg=[state, count],
        timeout=RECONNECT_TIMEOUT,
    )


def test_the_page_backs_off_while_the_service_is_unreachable_and_starts_afresh_once_connected(
    browser: Browser, tmp_path: Path, troubles: Troubles
) -> None:
    troubles.expect(*OUTAGE)
    with service_on(free_port(), tmp_path) as server, link_to(server) as link:
        page = new_page(browser)
        sign_in(page, link.base_url, "alice")  # the probe's WebSocket is then same-origin
        page.evaluate(PROBE, {"url": link.ws_url, "token": token_for("alice")})
        statuses_seen(page, "connected", 1)

        link.down()  # every attempt now fails
        statuses_seen(page, "reconnecting", 3)
        link.up()
        statuses_seen(page, "connected", 2)
        link.cut()
        statuses_seen(page, "connected", 3)
        statuses = page.evaluate("window.statuses")

    outages: list[list[float]] = []  # the delays reported after each connection, in order
    for status in statuses:
        if status["state"] == "connected":
            outages.append([])
        else:
            outages[-1].append(status["delay"])
    first, second, none = outages
    assert first[:3] == [500, 1000, 2000]  # doubling while every attempt fails
    assert all(later == min(2 * earlier, 30000) for earlier, later in itertools.pairwise(first))
    assert second == [500]  # the connection in between worked: afresh from half a second
    assert none == []


# Requests that were not acknowledged are re-sent with their ids (docs/websocket.md, "Idempotency").


def test_a_create_whose_reply_was_lost_is_resent_with_its_id_and_runs_once(
    browser: Browser, tmp_path: Path, troubles: Troubles
) -> None:
    # An HTTP request of the page (its favicon) may still be in flight when replies are lost.
    troubles.expect(
        r"^failed GET \S+: net::ERR_", r"^console error: Failed to load resource: net::ERR_"
    )
    with service_on(free_port(), tmp_path) as server, link_to(server) as link:
        page = new_page(browser)
        wire = Wire(page)
        sign_in(page, link.base_url, "bob")

        link.lose_replies()  # the create arrives and runs; its reply never comes back
        create_in(page, 1)
        wait_until_stored(server, 1)
        expect(page.locator("#count")).to_have_text("0")
        link.cut()

        expect(page.locator("#count")).to_have_text("1", timeout=RECONNECT_TIMEOUT)
        expect(page.locator("#status")).to_have_attribute("data-state", "connected")
        for field in FIELDS:  # the form is cleared only once the create is acknowledged
            if field.kind != "bool":
                expect(page.locator(f"#field-{field.name}")).to_have_value("")
        expect(page.locator("#error")).to_have_text("")
        stored = stored_entities(server)
        close_pages()  # before the link goes

    create = f"{ENTITY}.create"
    creates = [(socket, frame) for socket, frame in wire.sent if frame["type"] == create]
    assert len(creates) == 2, creates
    (lost_on, original), (resent_on, resent) = creates
    assert resent_on > lost_on  # after a reconnection
    assert resent == original  # the same id, type and data
    replies = [frame for _, frame in wire.received if frame.get("id") == original["id"]]
    assert [reply["type"] for reply in replies] == ["ack"]  # the first one was lost
    assert len(stored) == 1
    assert replies[0]["data"] == stored[0]

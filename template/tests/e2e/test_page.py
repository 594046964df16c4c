"""What a newcomer meets on the example page at `/`, in real headless Chromium: signing in (and
being told plainly when a token is refused, instead of a page that retries forever), who is
signed in, errors next to the fields they concern, a question before a delete, the chat room
and its members, and a page that fits a phone and a desktop, light and dark.

Every test fails on any console error or warning, uncaught exception, failed request or HTTP
error (the favicon included) that it does not provoke on purpose: see test_browser.py.
Screenshots go to build/screenshots/ of the project, to look at.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Dialog, Page, WebSocket, expect

from tests.e2e.credentials import API_TOKENS, expected_subject, jwt_token, token_for
from tests.e2e.harness import Server, free_port
from tests.e2e.test_browser import (
    CHROMIUM,
    OUTAGE,
    RECONNECT_TIMEOUT,
    Troubles,
    Wire,
    create_in,
    form_value,
    launched,
    new_page,
    open_page,
    serving,
    sign_in,
    stored_entities,
    watching,
)
from tests.e2e.test_python_client import service_on
from tests.samples import AUTH, EMAIL_FIELDS, ENTITY, FIELDS, PLURAL, ROOMS, TEXT_FIELDS

SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
CHECK_URL = rf"/api/{PLURAL}\?limit=1$"  # the page's token check
REFUSED = (rf"^HTTP 401 GET \S+{CHECK_URL}", r"^console error: Failed to load resource: .* 401")
HANDSHAKE_REFUSED = r"^console error: WebSocket connection to '\S+' failed: HTTP Authentication"
MEMBERS_TIMEOUT = 30_000  # milliseconds: the page asks every 5 s, on a loaded machine

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine")
needs_auth = pytest.mark.skipif(
    AUTH == "none", reason="without auth every caller is the same subject"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched() as browser:
        yield browser


@pytest.fixture(autouse=True)
def troubles() -> Iterator[Troubles]:
    with watching() as troubles:
        yield troubles


class Sockets:
    """The WebSockets a page opened, as Chromium reports them (failed handshakes included)."""

    def __init__(self, page: Page) -> None:
        self.opened: list[WebSocket] = []
        page.on("websocket", lambda socket: self.opened.append(socket))

    def closed(self) -> bool:
        return all(socket.is_closed() for socket in self.opened)


def bad_token() -> str:
    """A token the service refuses: an expired JWT, or a string that is not in API_TOKENS."""
    return jwt_token("alice", lifetime=-60) if AUTH == "jwt" else "not-one-of-the-api-tokens"


def expect_signed_out(page: Page, *problem: str) -> None:
    expect(page.locator("#status")).to_have_attribute("data-state", "signed-out")
    expect(page.locator("#sign-in-card")).to_be_visible()
    expect(page.locator("#workspace")).to_be_hidden()
    for words in problem:
        expect(page.locator("#sign-in-problem")).to_contain_text(words)


def submit_token(page: Page, token: str) -> None:
    page.fill("#token", token)
    page.click("#sign-in button")


# Signing in.


@needs_auth
def test_a_refused_token_is_explained_and_never_retried(
    browser: Browser, tmp_path: Path, troubles: Troubles
) -> None:
    troubles.expect(*REFUSED)
    with serving(free_port(), tmp_path) as server:
        page = new_page(browser)
        sockets = Sockets(page)
        page.goto(server.base_url)
        expect(page.locator("#token")).to_have_attribute("type", "password")

        submit_token(page, bad_token())

        expect_signed_out(page, "Invalid or expired token", "make token SUBJECT=you")
        if AUTH == "token":
            expect(page.locator("#sign-in-problem")).to_contain_text("API_TOKENS")
        expect(page.locator("#token")).to_have_value("")
        assert sockets.opened == []  # refused over HTTP: no WebSocket was even tried
        submit_token(page, token_for("alice") or "")
        expect(page.locator("#status")).to_have_attribute("data-state", "connected")
        # One WebSocket, the good one: nothing kept trying with the refused token meanwhile.
        assert len(sockets.opened) == 1

    assert len(troubles.seen) == 2, troubles.seen  # the one refused check, as HTTP and console


@needs_auth
def test_the_signed_in_subject_is_shown_and_signing_out_forgets_the_token(
    browser: Browser, tmp_path: Path
) -> None:
    with serving(free_port(), tmp_path) as server:
        page = new_page(browser)
        sockets = Sockets(page)
        sign_in(page, server.base_url, "alice")

        # A JWT names its subject; a static token does so only in the service's API_TOKENS.
        shown = "alice" if AUTH == "jwt" else f"…{API_TOKENS['alice'][-4:]}"
        expect(page.locator("#subject")).to_have_text(shown)
        expect(page.locator("#token")).to_have_value("")  # the sign-in form is gone anyway
        page.click("#sign-out")

        expect_signed_out(page)
        expect(page.locator("#subject")).to_be_hidden()
        expect(page.locator("#sign-in-problem")).to_be_hidden()
        if not sockets.closed():
            sockets.opened[0].wait_for_event("close")
        assert sockets.closed()
        page.reload()  # the token is not remembered for the next visit either
        expect_signed_out(page)
        assert len(sockets.opened) == 1


@pytest.mark.skipif(AUTH != "jwt", reason="JSON Web Tokens only (auth = jwt)")
def test_an_expired_session_asks_to_sign_in_again_instead_of_reconnecting(
    browser: Browser, tmp_path: Path
) -> None:
    with serving(free_port(), tmp_path) as server:
        page = new_page(browser)
        sockets = Sockets(page)
        page.goto(server.base_url)
        submit_token(page, jwt_token("alice", lifetime=15))
        expect(page.locator("#status")).to_have_attribute("data-state", "connected")

        # At `exp` the service closes the connection with 1008 (credentials expired).
        expect(page.locator("#status")).to_have_attribute(
            "data-state", "signed-out", timeout=RECONNECT_TIMEOUT
        )

        expect_signed_out(page, "credentials expired", "Sign in again", "make token")
        submit_token(page, jwt_token("alice"))
        expect(page.locator("#status")).to_have_attribute("data-state", "connected")
        assert len(sockets.opened) == 2  # the expired session never tried again


@needs_auth
def test_a_token_revoked_while_disconnected_stops_the_reconnection(
    browser: Browser, tmp_path: Path, troubles: Troubles
) -> None:
    troubles.expect(*OUTAGE, *REFUSED, HANDSHAKE_REFUSED)
    port = free_port()
    with service_on(port, tmp_path) as first:
        page = new_page(browser)
        sockets = Sockets(page)
        sign_in(page, first.base_url, "alice")
    expect(page.locator("#status")).not_to_have_attribute("data-state", "connected")

    # The service comes back knowing carol only: alice's token is no longer valid.
    secret = "another-secret-for-a-service-that-forgot-alice-0123456789"
    carol = jwt_token("carol", secret=secret) if AUTH == "jwt" else API_TOKENS["carol"]
    settings = {"JWT_SECRET": secret} if AUTH == "jwt" else {"API_TOKENS": f"{carol}:carol"}
    with serving(port, tmp_path, **settings):
        expect(page.locator("#status")).to_have_attribute(
            "data-state", "signed-out", timeout=RECONNECT_TIMEOUT
        )
        expect_signed_out(page, "no longer accepts your token", "Sign in again")
        tried = len(sockets.opened)
        submit_token(page, carol)
        expect(page.locator("#status")).to_have_attribute("data-state", "connected")
        assert len(sockets.opened) == tried + 1  # and nothing went on trying alice's token


# Entities: errors next to their fields, a question before a delete.


@pytest.mark.skipif(not TEXT_FIELDS, reason="the entity has no text field")
def test_validation_errors_show_next_to_the_fields_they_concern(
    browser: Browser, tmp_path: Path
) -> None:
    with serving(free_port(), tmp_path) as server:
        page = open_page(browser, server, "alice")
        blank, *_ = TEXT_FIELDS
        create_in(page, 1)  # a valid one first, so that the form's other fields are filled
        expect(page.locator("#count")).to_have_text("1")
        for field in FIELDS:
            if field.kind != "bool":
                page.fill(f"#field-{field.name}", form_value(field, 2))
        page.fill(f"#field-{blank.name}", "   ")  # not empty, so the browser lets it through
        for field in EMAIL_FIELDS:
            page.fill(f"#field-{field.name}", "ada@example")  # the browser's rule, not ours
        page.click("#save")

        expect(page.locator(f"#problem-{blank.name}")).to_have_text("must not be blank")
        expect(page.locator(f"#field-{blank.name}")).to_have_attribute("aria-invalid", "")
        for field in EMAIL_FIELDS:
            problem = page.locator(f"#problem-{field.name}")
            expect(problem).to_contain_text("must be an e-mail address")
        expect(page.locator("#error")).to_have_text("Please correct the fields marked above.")
        for field in FIELDS:
            if field is not blank and field not in EMAIL_FIELDS:
                expect(page.locator(f"#problem-{field.name}")).to_have_text("")

        page.fill(f"#field-{blank.name}", "Grace")  # typing clears that field's problem
        expect(page.locator(f"#problem-{blank.name}")).to_have_text("")
        for field in EMAIL_FIELDS:
            page.fill(f"#field-{field.name}", "grace@example.com")
        page.click("#save")
        expect(page.locator("#count")).to_have_text("2")
        expect(page.locator("#error")).to_have_text("")
        for field in EMAIL_FIELDS:
            expect(page.locator(f"#problem-{field.name}")).to_have_text("")


def test_a_delete_is_confirmed_first_and_a_dismissed_one_sends_nothing(
    browser: Browser, tmp_path: Path
) -> None:
    with serving(free_port(), tmp_path) as server:
        page = new_page(browser)
        wire = Wire(page)
        sign_in(page, server.base_url, "alice")
        create_in(page, 1)
        expect(page.locator("#count")).to_have_text("1")
        questions: list[str] = []

        def answer(accept: bool) -> None:
            def reply(dialog: Dialog) -> None:
                questions.append(dialog.message)
                if accept:
                    dialog.accept()
                else:
                    dialog.dismiss()

            page.once("dialog", reply)
            page.click("#rows tr button:has-text('Delete')")

        answer(accept=False)
        answer(accept=True)

        expect(page.locator("#count")).to_have_text("0")
        assert stored_entities(server) == []

    assert len(questions) == 2, questions
    # The question names the entity by its first text field, when it has one.
    named = next((field for field in FIELDS if field.kind == "str"), None)
    name = form_value(named, 1) if named else ""
    assert all(f"Delete the {ENTITY.replace('_', ' ')} “{name}" in q for q in questions), questions
    deletes = [frame for _, frame in wire.sent if frame["type"] == f"{ENTITY}.delete"]
    assert len(deletes) == 1, deletes  # only the confirmed one reached the service


# The chat room.


@pytest.mark.skipif(not ROOMS, reason="rooms are off")
def test_a_room_lists_its_members_and_shows_messages_as_text(
    browser: Browser, tmp_path: Path
) -> None:
    alice_is, bob_is = expected_subject("alice"), expected_subject("bob")
    with serving(free_port(), tmp_path) as server:
        alice = open_page(browser, server, "alice")
        bob = open_page(browser, server, "bob")
        for page in (alice, bob):
            expect(page.locator("#leave")).to_be_disabled()
            page.fill("#room", "lobby")
            page.click("#join")
            expect(page.locator("#join")).to_be_disabled()  # already in lobby
            expect(page.locator("#leave")).to_be_enabled()
            expect(page.locator("#room-name")).to_have_text("lobby")
        expect(bob.locator("#members li")).to_have_text(sorted({alice_is, bob_is}))
        # The list is asked for again on a timer: alice sees bob, who came after her.
        expect(alice.locator("#members li")).to_have_text(
            sorted({alice_is, bob_is}), timeout=MEMBERS_TIMEOUT
        )

        bob.fill("#message", "hello, alice")
        bob.click("#say")
        publish_json(bob, server, {"n": 1, "tags": ["a", "b"]})

        texts = [f"{bob_is} hello, alice", f'{bob_is} {{"n":1,"tags":["a","b"]}}']
        expect(alice.locator("#messages li:not(.note)")).to_have_text(texts)
        # bob's second client is another connection: bob's page gets its message too.
        expect(bob.locator("#messages li:not(.note)")).to_have_text(["you hello, alice", texts[1]])

        bob.fill("#room", "elsewhere")
        expect(bob.locator("#join")).to_be_enabled()  # another room may be joined
        bob.click("#leave")
        expect(bob.locator("#say")).to_be_disabled()
        expect(bob.locator("#leave")).to_be_disabled()
        expect(bob.locator("#members li")).to_have_count(0)
        expect(bob.locator("#messages li.note").last).to_have_text("left lobby")
        expect(alice.locator("#members li")).to_have_text([alice_is], timeout=MEMBERS_TIMEOUT)


def publish_json(page: Page, server: Server, payload: object) -> None:
    """Publish `payload` to lobby from a second client of `page`'s own realtime.js."""
    page.evaluate(
        """async ({ url, token, payload }) => {
          const { RealtimeClient } = await import("/static/realtime.js");
          const other = new RealtimeClient(url, { token });
          other.connect();
          await other.join("lobby");
          await other.request("room.publish", { room: "lobby", payload });
          other.close();
        }""",
        {"url": server.ws_url, "token": token_for("bob"), "payload": payload},
    )


@pytest.mark.skipif(not ROOMS, reason="rooms are off")
def test_the_room_field_accepts_exactly_the_room_names_of_the_protocol(
    browser: Browser, tmp_path: Path
) -> None:
    with serving(free_port(), tmp_path) as server:
        page = open_page(browser, server, "alice")
        valid = page.evaluate(
            """(names) => names.map((name) => {
              const room = document.querySelector("#room");
              room.value = name;
              return room.checkValidity();
            })""",
            ["lobby", "a-b.c:d_9", "A" * 64, "", "two words", "x/y", "A" * 65, "é"],
        )

    # An invalid `pattern` is ignored by the browser (every name passes), with a console error.
    assert valid == [True, True, True, False, False, False, False, False]


# The look: a phone and a desktop, light and dark.


def test_the_page_fits_a_phone_and_a_desktop_in_light_and_dark(
    browser: Browser, tmp_path: Path
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with serving(free_port(), tmp_path) as server:
        for n, (width, scheme) in enumerate(
            [(1280, "light"), (390, "light"), (1280, "dark"), (390, "dark"), (360, "light")]
        ):
            page = new_page(browser, viewport={"width": width, "height": 800}, color_scheme=scheme)
            page.goto(server.base_url)
            if AUTH == "none":
                expect(page.locator("#sign-in-card")).to_have_count(0)
                expect(page.locator("#session")).to_be_hidden()
            else:
                expect_signed_out(page)
                shoot(page, f"sign-in-{width}-{scheme}")
            sign_in(page, server.base_url, "alice")
            create_in(page, n)
            expect(page.locator("#count")).to_have_text(str(n + 1))
            if ROOMS:
                page.click("#join")
                page.fill("#message", f"hello from a {width} px {scheme} screen")
                page.click("#say")
                expect(page.locator("#members li")).to_have_count(1)
            shoot(page, f"page-{width}-{scheme}")


def shoot(page: Page, name: str) -> None:
    """Save a screenshot of the whole page; it must not scroll sideways."""
    page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)
    scroll_width, width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll_width <= width, f"{name}: {scroll_width} px wide in a {width} px window"

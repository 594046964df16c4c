"""The example page at `/` in real headless Chromium: live updates across tabs, reconnection.

Chromium comes from the system (Debian's `chromium` package); without it these tests are
skipped, unless REQUIRE_BROWSER is set (as CI does), when they fail instead.
"""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.e2e.credentials import token_for
from tests.e2e.harness import Server, free_port
from tests.e2e.test_python_client import service_on
from tests.samples import AUTH, FIELDS, ROOMS, FieldSpec

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

if CHROMIUM is None and os.environ.get("REQUIRE_BROWSER"):
    raise RuntimeError("REQUIRE_BROWSER is set but no chromium is installed")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def open_page(browser: Browser, server: Server, subject: str) -> Page:
    page = browser.new_context().new_page()
    page.set_default_timeout(TIMEOUT)
    page.goto(server.base_url)
    if AUTH != "none":
        page.fill("#token", token_for(subject) or "")
        page.click("#sign-in button")
    expect(page.locator("#status")).to_have_attribute("data-state", "connected")
    return page


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
    with service_on(free_port(), tmp_path) as server:
        watcher = open_page(browser, server, "alice")
        author = open_page(browser, server, "bob")

        shown = create_in(author, 1)

        expect(watcher.locator("#count")).to_have_text("1")
        expect(watcher.locator("#rows tr")).to_have_count(1)
        expect(watcher.locator("#rows tr").first).to_contain_text(shown)
        expect(author.locator("#error")).to_have_text("")


def test_the_page_reconnects_after_a_restart(browser: Browser, tmp_path: Path) -> None:
    port = free_port()
    with service_on(port, tmp_path) as first:
        watcher = open_page(browser, first, "alice")
        author = open_page(browser, first, "bob")
        create_in(author, 1)
        expect(watcher.locator("#count")).to_have_text("1")

    expect(watcher.locator("#status")).not_to_have_attribute("data-state", "connected")
    with service_on(port, tmp_path):
        connected = "data-state"
        expect(watcher.locator("#status")).to_have_attribute(connected, "connected", timeout=40_000)
        expect(author.locator("#status")).to_have_attribute(connected, "connected", timeout=40_000)

        shown = create_in(author, 2)

        expect(watcher.locator("#count")).to_have_text("2")
        expect(watcher.locator("#rows")).to_contain_text(shown)


@pytest.mark.skipif(not ROOMS, reason="rooms are off")
def test_two_tabs_chat_in_a_room(browser: Browser, tmp_path: Path) -> None:
    with service_on(free_port(), tmp_path) as server:
        alice = open_page(browser, server, "alice")
        bob = open_page(browser, server, "bob")
        for page in (alice, bob):
            page.fill("#room", "lobby")
            page.click("#join-form button")
            expect(page.locator("#say")).to_be_enabled()

        alice.fill("#message", "hello from alice")
        alice.click("#say")

        expect(bob.locator("#messages")).to_contain_text("hello from alice")

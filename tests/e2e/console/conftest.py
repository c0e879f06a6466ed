"""One local stack, one console and one headless chromium for the console's tests, all on one xdist
worker (the xdist_group in each module)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import local_stack
from tests.e2e.console.console_harness import CHROMIUM, RunningConsole, launch, running_console
from tests.e2e.harness import RunningStack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """The console tests' own local stack: what they count (a tenant's clients, the deployment's
    events) is theirs alone, whatever the other e2e tests on this worker do to the shared one."""
    yield from local_stack(tmp_path_factory, "console-stack")


@pytest.fixture(scope="session")
def console(stack: RunningStack) -> Iterator[RunningConsole]:
    with running_console(stack) as running:
        yield running


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: `make browser-deps` installs Debian's chromium"
    with sync_playwright() as playwright:
        launched = launch(playwright)
        yield launched
        launched.close()


class Page:
    """A logged-in tab, with everything the browser reported as an error."""

    def __init__(self, page: Any, console: RunningConsole) -> None:
        self.page = page
        self.console = console
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))

    def open(self, fragment: str) -> Any:
        self.page.goto(f"{self.console.origin}/{fragment}")
        self.page.wait_for_selector("header")
        return self.page


def login(browser: Any, console: RunningConsole) -> Page:
    """A new browser context (its own cookies and storage) logged in with the one-time URL."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=console.origin)
    tab = Page(context.new_page(), console)
    tab.page.goto(console.login_url)
    tab.page.wait_for_selector("header")
    return tab


@pytest.fixture(scope="session")
def logged_in(browser: Any, console: RunningConsole) -> Page:
    """The console's one login: its URL works once, so every test shares this browser context."""
    return login(browser, console)


@pytest.fixture
def tab(logged_in: Page) -> Iterator[Page]:
    """The logged-in context, with a fresh tab per test, and no error left unseen."""
    page = logged_in.page.context.new_page()
    fresh = Page(page, logged_in.console)
    yield fresh
    page.close()

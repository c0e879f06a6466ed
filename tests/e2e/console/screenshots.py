"""docs/console/*.png: the console's main pages on a local stack seeded the same way each time.

``make console-screenshots`` (``python -m tests.e2e.console.screenshots``) writes the pictures and
``docs/console/outline.json``: for each page, the SHA-256 of its outline (each element's tag, role,
label, classes and status, never its text, which holds ids and times). Pixels differ from one
machine's fonts to another's; the outline does not, so a test rebuilds it and compares: a page that
changed without new screenshots fails.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from playwright.sync_api import ViewportSize

from tests.e2e.console.console_harness import launch, running_console
from tests.e2e.harness import REPO, RunningStack, curl, run_cli, start_stack
from tests.e2e.signing import admin

DOCS = REPO / "docs" / "console"
OUTLINE_FILE = DOCS / "outline.json"
TENANT = "acme"
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}

# Each element of the app as tag[role|aria-label|classes|status]: the page's structure, no text.
OUTLINE_JS = """() => {
  const lines = [];
  const walk = (el, depth) => {
    const a = (n) => el.getAttribute(n) || "";
    const classes = [...el.classList].sort().join(".");
    const marks = [a("role"), a("aria-label"), classes, a("data-status")].join("|");
    lines.push(`${"  ".repeat(depth)}${el.tagName.toLowerCase()}[${marks}]`);
    for (const child of el.children) walk(child, depth + 1);
  };
  walk(document.getElementById("app"), 0);
  return lines.join("\\n");
}"""


class Shot(NamedTuple):
    name: str
    fragment: Callable[[dict[str, str]], str]  # from the seeded clients' ids
    ready: tuple[str, ...]  # selectors that are all there once the page has loaded
    act: Callable[[Any], None] = lambda page: None


def _bad_cidr(page: Any) -> None:
    page.fill("#f-client_name", "new-service")
    page.fill("#f-allowed_cidrs", "203.0.113.7/24")
    page.get_by_role("button", name="Issue", exact=True).click()
    page.locator(".field-error[data-field=allowed_cidrs]").wait_for()


SHOTS = (
    Shot("tenants", lambda ids: "#/", ("ul.recent li",)),
    Shot("clients", lambda ids: f"#/t/{TENANT}", ("table.client-list[aria-busy=false] [data-status=limited]",)),
    Shot("client", lambda ids: f"#/t/{TENANT}/c/{ids['billing-service']}", (".usage canvas", "table.events tr")),
    Shot("issue", lambda ids: f"#/t/{TENANT}/new", ("#f-client_name",), _bad_cidr),
    Shot("deployment", lambda ids: "#/deployment", ("table.keys tr", "table.events tr")),
)


def _issue(stack: RunningStack, name: str, **fields: Any) -> tuple[str, str]:
    answer = admin(stack, "POST", f"/admin/tenants/{TENANT}/clients", {"client_name": name, **fields})
    assert answer.status == 201, answer.body
    return answer.body["client"]["client_id"], answer.body["token"]


def seed(stack: RunningStack) -> dict[str, str]:
    """The tenant the pictures show: a client of each status, and one with traffic."""
    from datetime import UTC, datetime, timedelta

    ids = {"my-first-client": _issue(stack, "my-first-client")[0]}
    policy = {"rate_limit": {"requests_per_second": 2, "burst": 3}, "quota": {"limit": 100000, "period": "day"}}
    ids["billing-service"], token = _issue(stack, "billing-service", scopes=["GET /invoke", "ANY /reports/*"], **policy)
    for _ in range(6):
        curl(f"{stack.url}/invoke", {"Authorization": token})
    assert run_cli(stack, "local", "flush-usage").returncode == 0
    ids["reports-job"], _ = _issue(stack, "reports-job", rotation_period_days=30, grace_seconds=3600, token_fetch=True)
    assert admin(stack, "POST", f"/admin/tenants/{TENANT}/clients/{ids['reports-job']}/rotate").status == 200
    soon = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    ids["partner-legacy"], _ = _issue(stack, "partner-legacy", expires_at=soon)
    ids["batch-importer"], _ = _issue(stack, "batch-importer")
    admin(stack, "PATCH", f"/admin/tenants/{TENANT}/clients/{ids['batch-importer']}", {"enabled": False})
    ids["old-device"], _ = _issue(stack, "old-device")
    assert admin(stack, "DELETE", f"/admin/tenants/{TENANT}/clients/{ids['old-device']}").status == 200
    return ids


@contextmanager
def seeded_console(browser: Any) -> Iterator[tuple[Any, dict[str, str]]]:
    """A fresh local stack, seeded, its console, and a logged-in tab of ``browser`` at VIEWPORT."""
    with tempfile.TemporaryDirectory() as folder:
        stack = start_stack(Path(folder) / "state", {"TOKENGATE_CACHE_TTL_SECONDS": "1"})
        try:
            ids = seed(stack)
            with running_console(stack) as console:
                context = browser.new_context(viewport=VIEWPORT)
                page = context.new_page()
                page.goto(console.login_url)
                page.wait_for_selector("header")
                page.goto(f"{console.origin}/#/t/{TENANT}")  # the tenant picker remembers it
                page.locator("table.client-list").wait_for()
                yield page, ids
                context.close()
        finally:
            stack.stop()


def visit(page: Any, shot: Shot, ids: dict[str, str]) -> str:
    """Open the shot's page, do what it does, and give its outline once everything has loaded
    (each page says so in its DOM: a hash change is no navigation, so "network idle" would not)."""
    page.evaluate("fragment => { location.hash = fragment; }", shot.fragment(ids))
    for selector in shot.ready:
        page.locator(selector).first.wait_for()
    shot.act(page)
    return str(page.evaluate(OUTLINE_JS))


def outlines(browser: Any, write_pictures: bool) -> dict[str, str]:
    """Each page's outline digest (and, when asked, its picture in docs/console)."""
    found = {}
    with seeded_console(browser) as (page, ids):
        for shot in SHOTS:
            outline = visit(page, shot, ids)
            found[shot.name] = hashlib.sha256(outline.encode()).hexdigest()
            if write_pictures:
                page.screenshot(path=str(DOCS / f"{shot.name}.png"), full_page=True)
    return found


def main() -> int:
    from playwright.sync_api import sync_playwright

    DOCS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        digests = outlines(browser, write_pictures=True)
        browser.close()
    OUTLINE_FILE.write_text(json.dumps(digests, indent=2, sort_keys=True) + "\n")
    print(f"wrote {len(digests)} screenshots and {OUTLINE_FILE.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

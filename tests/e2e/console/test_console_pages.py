"""The console in Debian's chromium against the local stack: what an operator does, checked in the
page and in the API behind it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import TENANT_ADMIN
from tests.e2e.console.conftest import Page, login
from tests.e2e.console.console_harness import running_console
from tests.e2e.harness import RunningStack, cli_json, curl, run_cli, wait_for
from tests.e2e.signing import admin
from tokengate.console.settings import PAGE_SIZE
from tokengate_core.tokens import format as tokens

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def issue(stack: RunningStack, tenant: str, name: str, **fields: Any) -> tuple[str, str]:
    """A client issued through the admin API: (client id, token)."""
    issued = admin(stack, "POST", f"/admin/tenants/{tenant}/clients", {"client_name": name, **fields})
    assert issued.status == 201, issued.body
    return issued.body["client"]["client_id"], issued.body["token"]


def confirm(page: Any, label: str) -> None:
    page.get_by_role("button", name=label, exact=True).click()
    page.get_by_role("button", name=f"Yes, {label.lower()}").click()


def badges(page: Any) -> list[str]:
    page.locator("h1 .badge").first.wait_for()
    return [str(s) for s in page.locator("h1 .badge").evaluate_all("els => els.map(e => e.dataset.status)")]


def stored_anywhere(page: Any) -> str:
    """Everything the page could have kept: its DOM, URL, storage, cookies and IndexedDB names."""
    return str(
        page.evaluate(
            """async () => JSON.stringify({
                dom: document.documentElement.outerHTML, url: location.href, title: document.title,
                local: {...localStorage}, session: {...sessionStorage}, cookies: document.cookie,
                idb: (await indexedDB.databases()).map(d => d.name), history: history.state,
            })"""
        )
    )


def test_issue_shows_the_token_once_copies_it_and_forgets_it(stack: RunningStack, tab: Page) -> None:
    page = tab.open("#/t/acme/new")
    page.fill("#f-client_name", "browser-issued")
    page.fill("#f-scopes", "GET /invoke")
    page.get_by_role("button", name="Issue", exact=True).click()
    token = page.locator("[data-token]").inner_text().strip()
    assert tokens.parse(token).key_id  # a real token of ours, shown once
    assert "Shown once" in page.locator(".token-once").inner_text()
    page.get_by_role("button", name="Copy token").click()
    page.get_by_text("Copied.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == token
    assert curl(f"{stack.url}/invoke", {"Authorization": token}).status == 200

    page.get_by_role("link", name="Go to the client").click()
    page.get_by_role("heading", name=re.compile("browser-issued")).wait_for()
    assert token not in stored_anywhere(page)
    page.go_back()  # the issue page again: a new, empty form
    page.locator("#f-client_name").wait_for()
    assert token not in stored_anywhere(page)
    assert tab.errors == []


def test_rotate_shows_the_new_token_and_the_grace_status(stack: RunningStack, tab: Page) -> None:
    client_id, old = issue(stack, "acme", "browser-rotated", grace_seconds=600)
    page = tab.open(f"#/t/acme/c/{client_id}")
    assert badges(page) == ["active"]
    confirm(page, "Rotate")
    new = page.locator("[data-token]").inner_text().strip()
    assert new != old and tokens.parse(new).key_id == client_id
    page.locator("h1 [data-status=grace]").wait_for()
    assert badges(page) == ["active", "grace"]
    grace = curl(f"{stack.url}/invoke", {"Authorization": old})
    assert grace.status == 200 and grace.headers["tokengate-token-status"].startswith("grace; ends=")

    page = tab.open("#/t/acme")
    row = page.locator("tr[data-client=browser-rotated]")
    row.locator("[data-status=grace]").wait_for()
    assert new not in stored_anywhere(page)


def test_revoke_and_restore_with_a_confirmation(stack: RunningStack, tab: Page) -> None:
    client_id, token = issue(stack, "acme", "browser-revoked")
    page = tab.open(f"#/t/acme/c/{client_id}")
    page.get_by_role("button", name="Revoke", exact=True).click()
    page.get_by_role("button", name="Cancel").click()  # asked, declined: nothing happens
    assert cli_json(stack, "clients", "show", "--tenant", "acme", client_id)["status"] == "active"

    confirm(page, "Revoke")
    page.locator("h1 [data-status=revoked]").wait_for()
    assert cli_json(stack, "clients", "show", "--tenant", "acme", client_id)["status"] == "revoked"
    assert wait_for(lambda: curl(f"{stack.url}/invoke", {"Authorization": token}).status, lambda s: s == 403) == 403

    confirm(page, "Restore")
    page.locator("h1 [data-status=active]").wait_for()
    assert cli_json(stack, "clients", "show", "--tenant", "acme", client_id)["status"] == "active"
    assert wait_for(lambda: curl(f"{stack.url}/invoke", {"Authorization": token}).status, lambda s: s == 200) == 200


def test_a_bad_cidr_gets_the_apis_message_beside_the_field_and_changes_nothing(stack: RunningStack, tab: Page) -> None:
    client_id, _ = issue(stack, "acme", "browser-policy")
    page = tab.open(f"#/t/acme/c/{client_id}")
    page.fill("#f-rps", "5")
    page.fill("#f-burst", "10")
    page.fill("#f-allowed_cidrs", "203.0.113.7/24")
    page.get_by_role("button", name="Save changes").click()
    message = page.locator(".field-error[data-field=allowed_cidrs]")
    assert "host bits" in message.inner_text()
    assert page.locator(".error[data-code=validation_error]").count() == 1
    shown = cli_json(stack, "clients", "show", "--tenant", "acme", client_id)
    assert shown.get("allowed_cidrs") is None and shown.get("rate_limit") is None

    page.fill("#f-allowed_cidrs", "203.0.113.0/24")
    page.get_by_role("button", name="Save changes").click()
    page.get_by_text(re.compile("^Saved: ")).wait_for()
    shown = cli_json(stack, "clients", "show", "--tenant", "acme", client_id)
    assert shown["allowed_cidrs"] == ["203.0.113.0/24"]
    assert shown["rate_limit"] == {"requests_per_second": 5.0, "burst": 10}
    assert page.locator(".field-error").count() == 0


def chart_totals(page: Any, expected: dict[str, int]) -> dict[str, int]:
    """What the chart itself draws (each dataset's sum), once it is ``expected`` or 10 s have passed:
    the chart is drawn after the page shows the numbers it comes with."""

    def drawn() -> dict[str, int]:
        return dict(
            page.evaluate(
                """() => Chart.getChart(document.querySelector('.usage canvas')).data.datasets
                     .map(d => [d.label, d.data.reduce((a, b) => a + b, 0)])"""
            )
        )

    return wait_for(drawn, lambda totals: totals == expected, timeout=10)


def test_the_usage_chart_changes_after_calls(stack: RunningStack, tab: Page) -> None:
    client_id, token = issue(stack, "acme", "browser-metered", rate_limit={"requests_per_second": 2, "burst": 2})
    page = tab.open(f"#/t/acme/c/{client_id}")
    page.locator(".usage canvas").wait_for()
    assert chart_totals(page, {"allowed": 0}) == {"allowed": 0}
    statuses = [curl(f"{stack.url}/invoke", {"Authorization": token}).status for _ in range(4)]
    assert statuses.count(200) == 2 and statuses.count(403) == 2
    assert run_cli(stack, "local", "flush-usage").returncode == 0

    limited = {"allowed": 2, "denied: rate_limited": 2}
    page.get_by_role("button", name="Refresh").click()
    page.locator(".usage .totals[data-allowed='2']").wait_for()
    assert chart_totals(page, limited) == limited
    assert page.locator(".usage [data-reason=rate_limited]").inner_text() == "2 rate_limited"

    page.select_option("#granularity", "day")
    page.locator(".usage .totals[data-granularity=day][data-allowed='2']").wait_for()
    assert chart_totals(page, limited) == limited
    page = tab.open("#/t/acme")
    page.locator("tr[data-client=browser-metered] [data-status=limited]").wait_for()


def test_the_lists_filters_search_and_paging(stack: RunningStack, tab: Page) -> None:
    for n in range(27):
        issue(stack, "paged", f"client-{n:02d}")
    revoked, _ = issue(stack, "paged", "gone")
    assert admin(stack, "DELETE", f"/admin/tenants/paged/clients/{revoked}").status == 200
    listed = admin(stack, "GET", "/admin/tenants/paged/clients?status=revoked&limit=100").body["items"]
    assert [c["client_name"] for c in listed] == ["gone"]
    page = tab.open("#/t/paged")
    rows = page.locator("table.client-list tbody tr")
    expect(rows).to_have_count(PAGE_SIZE)
    page.get_by_role("button", name="Next page").click()
    expect(rows).to_have_count(28 - PAGE_SIZE)
    expect(page.get_by_role("button", name="Next page")).to_be_disabled()
    page.get_by_role("button", name="Previous page").click()
    expect(rows).to_have_count(PAGE_SIZE)

    page.select_option("#status", "revoked")  # on the second page of the API's: the page is filled from it
    page.locator("tr[data-client=gone]").wait_for()
    expect(rows).to_have_count(1)
    assert tab.errors == []
    page.select_option("#status", "")
    expect(rows).to_have_count(PAGE_SIZE)
    page.fill("#search", "client-0")  # filters the rows shown
    expect(rows).to_have_count(10)
    page.fill("#search", "client-26")  # Enter: the name anywhere in the tenant, in one read
    page.get_by_role("button", name="Find").click()
    page.locator("tr[data-client=client-26]").wait_for()
    expect(rows).to_have_count(1)


@pytest.fixture
def tenant_console(stack: RunningStack, browser: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Page]:
    """A console signed with a tenant-scoped principal's AWS credentials (admin of tenant-a only)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", TENANT_ADMIN["access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", TENANT_ADMIN["secret_access_key"])
    with running_console(stack, "--credentials", "aws") as running:
        yield login(browser, running)


def test_a_tenant_scoped_principal_is_refused_on_another_tenant(stack: RunningStack, tenant_console: Page) -> None:
    issue(stack, "tenant-a", "theirs")
    page = tenant_console.open("#/t/tenant-a")
    page.locator("tr[data-client=theirs]").wait_for()
    assert "your AWS credentials" in page.locator("header").inner_text()

    page = tenant_console.open("#/t/acme")
    refusal = page.locator(".error[data-code=forbidden]")
    assert "your identity may not do this" in refusal.inner_text()
    assert page.locator("table.client-list tbody tr").count() == 0
    page = tenant_console.open("#/deployment")
    assert "your identity may not do this" in page.locator(".error[data-code=forbidden]").first.inner_text()


def test_the_guardrails_page_shows_the_limits_and_the_clients_that_break_them(stack: RunningStack, tab: Page) -> None:
    forever, _ = issue(stack, "guarded", "forever")
    issue(stack, "guarded", "brief", ttl_seconds=3600, scopes=["GET /invoke"])
    quota = {"quota": {"limit": 5, "period": "day"}}
    rails = {"max_lifetime_days": 30, "allowed_scopes": ["GET /invoke"], "default_usage_policy": quota}
    assert admin(stack, "PUT", "/admin/tenants/guarded/guardrails", rails).status == 200
    page = tab.open("#/t/guarded")
    page.get_by_role("link", name="Guardrails").click()
    page.locator("dl.fields").wait_for()
    assert page.locator("[data-rail=max_lifetime_days]").inner_text() == "30 days"
    assert page.locator("[data-rail=max_rotation_period_days]").inner_text() == "no limit"
    assert page.locator("[data-rail=allowed_scopes]").inner_text() == "GET /invoke"
    assert page.locator("[data-rail=default_usage_policy]").inner_text() == "5 a day (on limit: deny)"
    rows = page.locator("table.violations tbody tr")
    assert rows.count() == 1 and rows.first.get_attribute("data-violation") == forever
    assert "expires_at is required" in rows.first.inner_text()
    rows.first.get_by_role("link", name="forever").click()
    page.get_by_role("heading", name=re.compile("forever")).wait_for()
    assert tab.errors == []


def test_no_page_reports_an_error(stack: RunningStack, tab: Page) -> None:
    policy = {"rate_limit": {"requests_per_second": 5, "burst": 5}, "rotation_period_days": 30, "token_fetch": True}
    client_id, token = issue(stack, "quiet", "every-page", **policy)
    curl(f"{stack.url}/invoke", {"Authorization": token})
    for fragment, ready in (
        ("#/", "h1"),
        ("#/t/quiet", "table.client-list[aria-busy=false] tr[data-client=every-page]"),
        ("#/t/quiet/new", "#f-client_name"),
        ("#/t/quiet/guardrails", "dl.fields"),
        (f"#/t/quiet/c/{client_id}", ".usage .totals"),
        (f"#/t/quiet/c/{client_id}", "table.events tr"),
        ("#/deployment", "table.keys tr"),
        ("#/deployment", "table.events tr"),
    ):
        page = tab.open(fragment)
        page.locator(ready).first.wait_for()
    assert tab.errors == []
    assert json.loads(page.evaluate("JSON.stringify(Object.keys(localStorage))")) == ["tokengate.console.recentTenants"]

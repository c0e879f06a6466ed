"""The console's boundary over real HTTP: the one-time login, the cookie, the Host and Origin
checks, the headers, and what it forwards (and what not)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from http.cookies import SimpleCookie

import pytest

from tests.e2e.console.console_harness import RunningConsole, running_console
from tests.e2e.harness import HttpResult, RunningStack, request
from tests.e2e.signing import admin
from tokengate.console.forward import MAX_BODY_BYTES
from tokengate.console.security import CONTENT_SECURITY_POLICY

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("browser")]


@pytest.fixture(scope="module")
def console(stack: RunningStack) -> Iterator[RunningConsole]:
    with running_console(stack) as running:
        yield running


@pytest.fixture(scope="module")
def cookie(console: RunningConsole) -> str:
    """The session cookie, as the one-time URL sets it (the URL is spent here)."""
    answer = request("GET", console.login_url, headers={"Host": host(console)})
    assert answer.status == 303 and answer.headers["location"] == "/"
    attributes = [a.strip().lower() for a in answer.headers["set-cookie"].split(";")]
    assert {"httponly", "samesite=strict", "path=/"} <= set(attributes)
    jar = SimpleCookie(answer.headers["set-cookie"])
    (name,) = jar.keys()
    return f"{name}={jar[name].value}"


def host(console: RunningConsole) -> str:
    return console.origin.removeprefix("http://")


def call(
    console: RunningConsole, method: str, path: str, *, cookie: str | None, body: bytes = b"", **headers: str
) -> HttpResult:
    sent = {"Host": host(console), **({"Cookie": cookie} if cookie else {}), **headers}
    if body:
        sent["Content-Type"] = "application/json"
    return request(method, console.origin + path, body=body, headers=sent)


def test_the_login_url_works_once(console: RunningConsole, cookie: str) -> None:
    again = request("GET", console.login_url, headers={"Host": host(console)})
    assert again.status == 403 and again.body["code"] == "login_refused"
    guessed = request("GET", console.origin + "/login?secret=guess", headers={"Host": host(console)})
    assert guessed.status == 403 and "set-cookie" not in guessed.headers
    # A browser that has the cookie already is sent on to the page.
    assert call(console, "GET", "/login?secret=x", cookie=cookie).status == 303


@pytest.mark.parametrize("path", ["/", "/api/settings", "/static/app.js", "/api/admin/tenants/acme/clients"])
def test_a_request_without_the_cookie_is_refused(console: RunningConsole, cookie: str, path: str) -> None:
    for sent in (None, "tokengate_console_1=x", cookie.split("=", maxsplit=1)[0] + "=forged"):
        answer = call(console, "GET", path, cookie=sent)
        assert answer.status == 401 and answer.body["code"] == "no_session", (sent, answer.body)
    assert call(console, "GET", path, cookie=cookie).status == 200


@pytest.mark.parametrize("foreign", ["evil.example", "evil.example:{port}", "127.0.0.1:1", "127.0.0.1"])
def test_a_foreign_host_is_refused_cookie_or_not(console: RunningConsole, cookie: str, foreign: str) -> None:
    answer = call(console, "GET", "/api/settings", cookie=cookie, Host=foreign.format(port=console.guard.port))
    assert answer.status == 403 and answer.body["code"] == "host_refused"
    assert call(console, "GET", "/api/settings", cookie=cookie, Host=f"localhost:{console.guard.port}").status == 200


def test_a_change_needs_the_consoles_own_origin(console: RunningConsole, cookie: str, stack: RunningStack) -> None:
    path = "/api/admin/tenants/origin-test/clients"
    for origin in ("http://evil.example", "null", f"http://127.0.0.1:{console.guard.port + 1}", None):
        body = json.dumps({"client_name": f"from-{len(str(origin))}"}).encode()
        extra = {"Origin": origin} if origin else {}
        answer = call(console, "POST", path, cookie=cookie, body=body, **extra)
        assert answer.status == 403 and answer.body["code"] == "origin_refused", origin
    assert admin(stack, "GET", "/admin/tenants/origin-test/clients").body["items"] == []  # nothing was created

    body = json.dumps({"client_name": "same-origin"}).encode()
    made = call(console, "POST", path, cookie=cookie, body=body, Origin=console.origin)
    assert made.status == 201 and made.body["client"]["client_name"] == "same-origin"
    assert made.headers["cache-control"] == "no-store"


def test_every_answer_carries_the_security_headers_and_the_page_no_inline_script(
    console: RunningConsole, cookie: str
) -> None:
    for path in ("/", "/static/app.js", "/api/settings", "/api/admin/keys", "/nowhere"):
        headers = call(console, "GET", path, cookie=cookie).headers
        assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY and "'unsafe-eval'" not in CONTENT_SECURITY_POLICY
        assert headers["x-frame-options"] == "DENY" and headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer" and headers["cache-control"] == "no-store"
    page = call(console, "GET", "/", cookie=cookie).body
    scripts = re.findall(r"<script\b[^>]*>", page)
    assert scripts and all(" src=" in tag for tag in scripts)
    assert not re.search(r"\sstyle=|\son[a-z]+=", page)


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/api/admin/openapi.json", 404, "not_forwarded"),  # an admin route no page uses
        ("POST", "/api/admin/migrate", 404, "not_forwarded"),
        ("POST", "/api/admin/imports", 404, "not_forwarded"),
        ("GET", "/api/admin/tenants/ACME/clients", 404, "not_forwarded"),  # not a tenant id
        ("GET", "/api/admin/tenants/acme/clients/../../../keys", 404, "not_forwarded"),
        ("GET", "/api/admin/tenants/acme/clients/abc%2F..%2F..%2Fkeys", 404, "not_forwarded"),
        ("GET", "/api/admin/tenants/acme/clients/AAAAAAAAAAAAAAAAAAAA", 404, "not_forwarded"),
        ("PUT", "/api/admin/keys", 405, None),
        ("GET", "/api/admin/tenants/acme/clients?limit=1&url=http://evil.example", 400, "invalid_query"),
        ("GET", "/api/events?tenant=Acme", 400, "invalid_query"),
        ("GET", "/api/events?client_id=abcdefghij0123456789", 400, "invalid_query"),
        ("GET", "/api/events?limit=100000", 400, "invalid_query"),
    ],
)
def test_only_the_pages_admin_routes_are_forwarded(
    console: RunningConsole, cookie: str, method: str, path: str, status: int, code: str | None
) -> None:
    answer = call(console, method, path, cookie=cookie, Origin=console.origin)
    assert answer.status == status, answer.body
    if code:
        assert answer.body["code"] == code


def test_a_body_must_be_json_and_small(console: RunningConsole, cookie: str) -> None:
    path = "/api/admin/tenants/acme/clients"
    for body, code in ((b"client_name=x", "invalid_json"), (b"[" * (MAX_BODY_BYTES + 1), "payload_too_large")):
        answer = call(console, "POST", path, cookie=cookie, body=body, Origin=console.origin)
        assert answer.body["code"] == code


def test_the_apis_own_errors_come_back_as_they_are(console: RunningConsole, cookie: str) -> None:
    answer = call(console, "GET", "/api/admin/tenants/acme/clients/abcdefghij0123456789", cookie=cookie)
    assert answer.status == 404 and answer.body["code"] == "not_found"
    bad = json.dumps({"client_name": "x", "allowed_cidrs": ["10.0.0.1/8"]}).encode()
    answer = call(console, "POST", "/api/admin/tenants/acme/clients", cookie=cookie, body=bad, Origin=console.origin)
    assert answer.status == 422 and answer.body["code"] == "validation_error"
    assert answer.body["details"][0]["loc"][:2] == ["body", "allowed_cidrs"]


def test_events_come_to_a_caller_the_api_lets_read_them(
    console: RunningConsole, cookie: str, stack: RunningStack
) -> None:
    made = call(
        console,
        "POST",
        "/api/admin/tenants/events-test/clients",
        cookie=cookie,
        body=json.dumps({"client_name": "watched"}).encode(),
        Origin=console.origin,
    )
    client_id = made.body["client"]["client_id"]
    mine = call(console, "GET", f"/api/events?tenant=events-test&client_id={client_id}", cookie=cookie).body
    assert [e["detail-type"] for e in mine["events"]] == ["Client Issued"]
    assert mine["events"][0]["detail"]["client_name"] == "watched" and made.body["token"] not in json.dumps(mine)
    everyone = call(console, "GET", "/api/events?limit=200", cookie=cookie).body
    assert {e["detail"]["client_id"] for e in everyone["events"]} >= {client_id}
    gone = call(console, "GET", "/api/events?tenant=events-test&client_id=abcdefghij0123456789", cookie=cookie)
    assert gone.status == 404 and gone.body["code"] == "not_found"  # the API's answer for a client it has not

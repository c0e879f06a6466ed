"""The console's parts without a browser: forwarding rules, answers, event sources, settings,
the vendored files, and the command's one-line failures."""

from __future__ import annotations

import argparse
import json
import socket
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import REPO
from tokengate.cli import main
from tokengate.cli.errors import CliError
from tokengate.cli.target import Target
from tokengate.console import forward, server, vendor
from tokengate.console.app import Console, recent_events
from tokengate.console.events import EventFile, EventsUnavailable, LogGroup, Wanted, filter_pattern
from tokengate.console.settings import credentials_of, events_source, page_settings
from tokengate_core.deployment.routes import ADMIN_ROUTES, admin_route
from tokengate_core.tokens.format import token_format

CLIENT = "abcdefghij0123456789"


@pytest.mark.parametrize(
    ("method", "path", "query", "route"),
    [
        ("GET", "/admin/tenants/acme/clients", [("limit", "5"), ("status", "active")], "list_clients"),
        ("POST", "/admin/tenants/acme/clients", [], "issue_client"),
        ("PATCH", f"/admin/tenants/a-1/clients/{CLIENT}", [], "update_client"),
        ("GET", f"/admin/tenants/acme/clients/{CLIENT}/usage", [("granularity", "day")], "client_usage"),
        ("POST", "/admin/keys/rotate", [], "rotate_keys"),
    ],
)
def test_the_pages_routes_match_with_their_own_query(
    method: str, path: str, query: list[tuple[str, str]], route: str
) -> None:
    matched = forward.match(method, path, query)
    assert isinstance(matched, forward.Matched)
    assert matched.route == admin_route(route) and matched.path == path and matched.query == query


@pytest.mark.parametrize(
    ("method", "path", "query", "code"),
    [
        ("GET", "/admin/openapi.json", [], "not_forwarded"),
        ("DELETE", "/admin/tenants/acme/clients", [], "not_forwarded"),
        ("GET", "/admin/tenants/-acme/clients", [], "not_forwarded"),
        ("GET", "/admin/tenants/acme/clients/short", [], "not_forwarded"),
        ("GET", f"/admin/tenants/acme/clients/{CLIENT}/../x", [], "not_forwarded"),
        ("GET", "/admin/tenants/acme/clients\n", [], "not_forwarded"),
        ("GET", "/admin/keys", [("limit", "1")], "invalid_query"),
        ("GET", "/admin/tenants/acme/clients", [("next_token", "x" * 5000)], "invalid_query"),
    ],
)
def test_anything_else_is_refused(method: str, path: str, query: list[tuple[str, str]], code: str) -> None:
    refused = forward.match(method, path, query)
    assert isinstance(refused, forward.Answer) and refused.body["code"] == code


def test_every_forwarded_route_is_an_admin_route_and_none_carries_a_token_in() -> None:
    names = {route.name for route in ADMIN_ROUTES}
    assert set(forward.FORWARDED) <= names
    assert not {"import_client", "report_leaks", "migrate", "openapi"} & set(forward.FORWARDED)


def test_a_body_is_passed_on_as_json_only() -> None:
    assert forward.json_body(b"") == b""
    assert json.loads(forward.json_body(b' {"a": [1, 2]} ')) == {"a": [1, 2]}  # type: ignore[arg-type]
    for raw, code in ((b"{", "invalid_json"), (b"1" * (forward.MAX_BODY_BYTES + 1), "payload_too_large")):
        refused = forward.json_body(raw)
        assert isinstance(refused, forward.Answer) and refused.body["code"] == code


@pytest.mark.parametrize(
    ("status", "data", "expected"),
    [
        (200, b'{"items": []}', (200, {"items": []})),
        (403, b'{"message":"Forbidden"}', (403, {"code": "forbidden", "message": forward.IAM_REFUSAL})),
        (403, b"The security token included in the request is invalid.", (403, None)),
        (403, b'{"code":"forbidden","message":"request carries no IAM identity"}', (403, None)),
        (409, b'{"code":"conflict","message":"taken"}', (409, {"code": "conflict", "message": "taken"})),
        (502, b"<html>Bad Gateway</html>", (502, {"code": "http_502", "message": "<html>Bad Gateway</html>"})),
        (404, b'{"message":"Not Found"}', (404, {"code": "http_404", "message": "Not Found"})),
        (200, b"not json", (502, None)),
    ],
)
def test_the_apis_answer_for_the_page(status: int, data: bytes, expected: tuple[int, Any]) -> None:
    answer = forward.answer(status, data)
    assert answer.status == expected[0]
    if expected[1] is not None:
        assert answer.body == expected[1]
    if status == 403 and b'"code"' not in data:
        assert answer.body == {"code": "forbidden", "message": forward.IAM_REFUSAL}  # never a guess at why


def test_an_unreachable_target_is_a_bad_gateway_naming_it() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    from botocore.credentials import ReadOnlyCredentials

    upstream = forward.Upstream(
        f"http://127.0.0.1:{port}/dev", "us-east-1", lambda: ReadOnlyCredentials("AKIA", "secret", None), 5.0
    )
    answer = upstream.call("GET", "/admin/keys")
    assert answer.status == 502 and answer.body["code"] == "unreachable"
    assert f"127.0.0.1:{port}/dev" in answer.body["message"] and "tokengate local" in answer.body["message"]


def event(tenant: str, client_id: str, n: int) -> dict[str, Any]:
    detail = {"tenant": tenant, "client_id": client_id, "n": n}
    return {"detail-type": "Client Updated", "time": f"2026-01-01T00:00:{n:02d}Z", "detail": detail}


def test_the_event_file_gives_the_newest_matching_events_first(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    assert EventFile(path).recent(Wanted()) == []  # no event yet
    lines = [json.dumps(event("acme" if n % 2 else "other", CLIENT if n % 3 else "x" * 20, n)) for n in range(10)]
    path.write_text("\n".join([*lines[:5], "not json", *lines[5:]]) + '\n{"partial": ')
    assert [e["detail"]["n"] for e in EventFile(path).recent(Wanted(limit=3))] == [9, 8, 7]
    assert [e["detail"]["n"] for e in EventFile(path).recent(Wanted("acme", limit=50))] == [9, 7, 5, 3, 1]
    assert [e["detail"]["n"] for e in EventFile(path).recent(Wanted("acme", CLIENT, 50))] == [7, 5, 1]
    with pytest.raises(EventsUnavailable, match="cannot read"):
        EventFile(tmp_path).recent(Wanted())  # a folder: not readable as a file


class FakeLogs:
    """CloudWatch Logs' FilterLogEvents over a list of (millisecond time, event): oldest first, in pages."""

    def __init__(self, events: list[tuple[int, dict[str, Any]]], page: int = 2, refuse: str | None = None) -> None:
        self.events, self.page, self.refuse, self.calls = events, page, refuse, []  # type: ignore[var-annotated]

    def filter_log_events(self, **request: Any) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        self.calls.append(request)
        if self.refuse:
            raise ClientError({"Error": {"Code": self.refuse, "Message": "no"}}, "FilterLogEvents")
        found = [e for t, e in self.events if request["startTime"] <= t < request["endTime"]]
        start = int(request.get("nextToken", 0))
        page = found[start : start + self.page]
        answer: dict[str, Any] = {"events": [{"message": json.dumps(e)} for e in page]}
        if start + self.page < len(found):
            answer["nextToken"] = str(start + self.page)
        return answer


def test_the_log_group_is_read_newest_window_first_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    now = 1_000_000_000.0
    monkeypatch.setattr("tokengate.console.events.time.time", lambda: now)
    recent = [(int((now - 60 * n) * 1000), event("acme", CLIENT, n)) for n in (5, 4, 3, 2, 1)]
    older = [(int((now - 7200) * 1000), event("acme", CLIENT, 50))]
    logs = FakeLogs(older + recent)
    found = LogGroup("tg-events", lambda: logs).recent(Wanted("acme", CLIENT, 3))
    assert [e["detail"]["n"] for e in found] == [1, 2, 3]
    assert len({c["startTime"] for c in logs.calls}) == 1  # the last hour had enough
    assert logs.calls[0]["filterPattern"] == filter_pattern(Wanted("acme", CLIENT))
    assert [e["detail"]["n"] for e in LogGroup("g", lambda: logs).recent(Wanted(limit=10))] == [1, 2, 3, 4, 5, 50]
    with pytest.raises(EventsUnavailable, match="your identity may not read g"):
        LogGroup("g", lambda: FakeLogs([], refuse="AccessDeniedException")).recent(Wanted())
    with pytest.raises(EventsUnavailable, match="ResourceNotFoundException"):
        LogGroup("g", lambda: FakeLogs([], refuse="ResourceNotFoundException")).recent(Wanted())


def test_a_filter_pattern_names_only_checked_values() -> None:
    assert filter_pattern(Wanted()) == ""
    assert filter_pattern(Wanted("acme", CLIENT)) == (
        f'{{ ($.detail.tenant = "acme") && ($.detail.client_id = "{CLIENT}") }}'
    )


class FakeUpstream:
    def __init__(self, status: int) -> None:
        self.status, self.calls = status, []  # type: ignore[var-annotated]

    def call(self, method: str, path: str, query: Any = ()) -> forward.Answer:
        self.calls.append((method, path, list(query)))
        return forward.Answer(self.status, {"code": "x", "message": "y"} if self.status >= 400 else {})


def test_events_go_only_to_a_caller_the_api_lets_read_them(tmp_path: Path) -> None:
    (tmp_path / "events.jsonl").write_text(json.dumps(event("acme", CLIENT, 1)) + "\n")
    allowed, refused = FakeUpstream(200), FakeUpstream(403)
    source = EventFile(tmp_path / "events.jsonl")
    for query, gate in (
        ({"tenant": "acme", "client_id": CLIENT}, ("GET", f"/admin/tenants/acme/clients/{CLIENT}", [])),
        ({"tenant": "acme"}, ("GET", "/admin/tenants/acme/clients", [("limit", "1")])),
        ({}, ("GET", "/admin/keys", [])),
    ):
        yes = recent_events(Console(allowed, source, {}), query)  # type: ignore[arg-type]
        assert yes.status == 200 and len(yes.body["events"]) == 1 and allowed.calls[-1] == gate
        no = recent_events(Console(refused, source, {}), query)  # type: ignore[arg-type]
        assert no.status == 403 and "events" not in no.body
    nowhere = recent_events(Console(allowed, None, {}), {})  # type: ignore[arg-type]
    assert nowhere.body == {"events": [], "source": None}


def test_settings_take_each_fact_from_where_it_is_defined(tmp_path: Path) -> None:
    from tokengate_core.deployment.config import SweepSettings
    from tokengate_core.records.rules import TENANT_PATTERN

    target = Target("http://127.0.0.1:8080/dev", "AKIA", "secret", None, "us-east-1")
    settings = page_settings(target, EventFile(tmp_path / "e"), token_format("acme_"))
    assert (
        settings["token_prefix"] == "acme_" and settings["scanner_pattern"] == token_format("acme_").scanner_pattern()
    )
    assert settings["patterns"]["tenant"] == TENANT_PATTERN and settings["local"] is True
    assert settings["expiry_warning_days"] == SweepSettings.model_fields["expiry_warning_days"].default
    assert settings["statuses"] == ["active", "disabled", "expired", "revoked"]
    assert credentials_of(target)().access_key == "AKIA"


def test_the_events_source_follows_the_target(tmp_path: Path) -> None:
    args = argparse.Namespace(events_log_group=None, state_dir=str(tmp_path), profile=None, region=None)
    local = Target("http://127.0.0.1:8080/dev", "a", "b", None, "us-east-1")
    deployed = Target("https://x.execute-api.eu-west-1.amazonaws.com/dev", "a", "b", None, "eu-west-1")
    assert events_source(args, local, {}, {}) == EventFile(tmp_path / "events.jsonl")
    assert events_source(args, deployed, {}, {}) is None
    found = events_source(args, deployed, {"LifecycleLogGroup": "/aws/events/tg"}, {})
    assert isinstance(found, LogGroup) and found.name == "/aws/events/tg"
    args.events_log_group = "mine"
    assert isinstance(events_source(args, local, {}, {}), LogGroup)


def test_the_vendored_files_are_the_pinned_packages_copies(tmp_path: Path) -> None:
    node_modules = REPO / "node_modules"
    assert vendor.differences(node_modules) == [], "run `make console-vendor`"
    pins = json.loads((REPO / "package.json").read_text())["devDependencies"]
    recorded = json.loads((vendor.VENDOR_DIR / vendor.MANIFEST).read_text())
    assert {(f["package"], f["version"]) for f in recorded["files"]} <= set(pins.items())
    vendor.copy(node_modules, tmp_path)
    assert vendor.differences(node_modules, tmp_path) == []
    (tmp_path / "htm.umd.js").write_text("/* changed */")
    assert vendor.differences(node_modules, tmp_path) == ["htm.umd.js differs from htm/dist/htm.umd.js"]


def test_the_page_loads_only_vendored_or_its_own_files() -> None:
    import re

    page = (vendor.VENDOR_DIR.parent / "index.html").read_text()
    sources = re.findall(r'src="([^"]+)"', page)
    assert {Path(s).name for s in sources if "/vendor/" in s} == {f.target for f in vendor.FILES}
    assert all(s.startswith("/static/") for s in sources)


def test_the_server_opens_a_browser_only_where_one_can_show(capsys: pytest.CaptureFixture[str]) -> None:
    assert server.graphical({"DISPLAY": ":0"}) and not server.graphical({"TERM": "xterm"})
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(CliError, match="address already in use"):
            server.listen(taken.getsockname()[1])


def test_the_command_fails_in_one_line_without_credentials(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["console", "--no-browser", "--state-dir", str(tmp_path), "--endpoint", "http://127.0.0.1:9/dev"])
    err = capsys.readouterr().err
    assert status == 3 and err.startswith("error: no_credentials: ") and err.count("\n") == 1
    assert main(["console", "--port", "99999"]) == 2
    with pytest.raises(SystemExit):
        main(["console", "--help"])
    assert "tokengate console --stack-name TokenGate" in capsys.readouterr().out


def test_the_local_stack_is_sent_one_call_at_a_time(tmp_path: Path) -> None:
    """Its admin containers share Powertools' class-level current event (see forward.Upstream)."""
    from tokengate.cli.options import finish
    from tokengate.cli.parser import build_parser
    from tokengate.console.settings import resolve

    (tmp_path / "credentials.json").write_text(json.dumps({"access_key_id": "AKIA", "secret_access_key": "s"}))
    for endpoint, serialized in (("http://127.0.0.1:8080/dev", True), ("https://x.example/dev", False)):
        argv = ["console", "--endpoint", endpoint, "--state-dir", str(tmp_path), "--region", "us-east-1"]
        console = resolve(finish(build_parser().parse_args(argv)), {})
        assert console.upstream.one_at_a_time is serialized
        assert console.upstream.base_url == endpoint and console.settings["local"] is serialized

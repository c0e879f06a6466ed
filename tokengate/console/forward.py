"""The page's calls to the admin API: matched against the admin routes, signed, sent to the one
target the console was started with.

Nothing from the page becomes a URL as such. A call names a method and a path; the path must be
one of the admin routes the pages use (from ``ADMIN_ROUTES``, the table the admin function itself
registers), its tenant must be a tenant id and its client a client id; only that route's own
query parameters go along. The URL is then the target's stage URL plus that checked path, so the
console can reach nothing but its target's admin API (no SSRF), and only the operations a page
needs (least privilege: no import, migration or leak report from here).

The call is signed with the CLI's credentials, fetched again for each call, so credentials that
refresh (an assumed role, SSO) keep working. The answer goes back as the API gave it (status,
``code``, ``message``, ``details``), except a 403 that carries no code of the API's: that is IAM
refusing the caller before the admin function ran, and it says only that.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import urlencode

from botocore.credentials import ReadOnlyCredentials

from tokengate_core.deployment.routes import AdminRoute, admin_route
from tokengate_core.records.rules import TENANT_PATTERN
from tokengate_core.tokens.format import KEY_ID_PATTERN

#: The admin routes the console's pages call, and the query parameters each may carry.
FORWARDED: dict[str, frozenset[str]] = {
    "list_clients": frozenset({"limit", "next_token", "status", "name"}),
    "issue_client": frozenset(),
    "get_client": frozenset(),
    "update_client": frozenset(),
    "revoke_client": frozenset(),
    "restore_client": frozenset(),
    "rotate_client": frozenset(),
    "client_usage": frozenset({"granularity", "from", "to"}),
    "get_guardrails": frozenset(),
    "get_keys": frozenset(),
    "rotate_keys": frozenset(),
}
#: Larger than any body the pages send (the admin API's own limit is larger still).
MAX_BODY_BYTES = 64 * 1024
MAX_QUERY_VALUE = 4096
IAM_REFUSAL = "your identity may not do this"
_PARAMETERS = {"tenant": TENANT_PATTERN.strip("^$"), "client_id": KEY_ID_PATTERN}


class Answer(NamedTuple):
    status: int
    body: Any


def error(status: int, code: str, message: str) -> Answer:
    return Answer(status, {"code": code, "message": message})


class Matched(NamedTuple):
    route: AdminRoute
    path: str  # the admin path, every segment checked: safe to append to the stage URL
    query: list[tuple[str, str]]


def _template(route: AdminRoute) -> re.Pattern[str]:
    unknown = set(re.findall(r"\{(\w+)\}", route.path)) - set(_PARAMETERS)
    if unknown:
        raise ValueError(f"{route.name}: path parameters the console cannot check: {sorted(unknown)}")
    pattern = re.escape(route.path)
    for name, inner in _PARAMETERS.items():
        pattern = pattern.replace(re.escape("{" + name + "}"), f"(?:{inner})")
    return re.compile(pattern)


_ROUTES = tuple((admin_route(name), _template(admin_route(name))) for name in FORWARDED)


def match(method: str, path: str, query: Sequence[tuple[str, str]]) -> Matched | Answer:
    """The admin route this call is, or the error the page gets. ``path`` starts at ``/admin``."""
    for route, template in _ROUTES:
        if route.method == method and template.fullmatch(path):
            allowed = FORWARDED[route.name]
            kept: list[tuple[str, str]] = []
            for name, value in query:
                if name not in allowed or len(value) > MAX_QUERY_VALUE:
                    return error(400, "invalid_query", f"{route.name} takes no query parameter {name[:40]!r}")
                kept.append((name, value))
            return Matched(route, path, kept)
    return error(404, "not_forwarded", "the console forwards only the admin API's routes that its pages use")


def json_body(raw: bytes) -> bytes | Answer:
    """The body to send: empty, or one JSON value (sent as parsed, so exactly JSON goes on)."""
    if not raw:
        return b""
    if len(raw) > MAX_BODY_BYTES:
        return error(413, "payload_too_large", f"a body of at most {MAX_BODY_BYTES} bytes")
    try:
        return json.dumps(json.loads(raw)).encode()
    except ValueError:
        return error(400, "invalid_json", "the body is not JSON")


@dataclass(frozen=True)
class Upstream:
    """The target's admin API, signed as the CLI signs.

    ``one_at_a_time`` (the local stack): its admin function's containers are module copies in one
    process, and Powertools' resolver keeps the current event in a class attribute
    (``BaseRouter.current_event``) that they all share, so two calls at once can each be answered
    with the other's query. In AWS every container is a process of its own."""

    base_url: str  # the stage URL, no trailing slash
    region: str
    credentials: Callable[[], ReadOnlyCredentials]
    timeout: float
    one_at_a_time: bool = False
    _turn: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def call(self, method: str, path: str, query: Sequence[tuple[str, str]] = (), body: bytes = b"") -> Answer:
        if not self.one_at_a_time:
            return self._call(method, path, query, body)
        with self._turn:
            return self._call(method, path, query, body)

    def _call(self, method: str, path: str, query: Sequence[tuple[str, str]], body: bytes) -> Answer:
        import urllib3
        from botocore.credentials import Credentials

        from tokengate.cli.http import unreachable
        from tokengate.sigv4 import sign

        url = self.base_url + path + (f"?{urlencode(list(query))}" if query else "")
        frozen = self.credentials()
        headers = {"content-type": "application/json"} if body else {}
        signed = sign(
            method,
            url,
            credentials=Credentials(str(frozen.access_key), str(frozen.secret_key), frozen.token),
            region=self.region,
            body=body,
            headers=headers,
        )
        try:
            response = _pool().request(
                method,
                signed.url,
                body=body or None,
                headers=signed.headers,
                redirect=False,
                timeout=urllib3.Timeout(connect=5.0, read=self.timeout),
            )
        except urllib3.exceptions.HTTPError as failure:
            problem = unreachable(self.base_url, failure)
            return error(504 if problem.code == "timeout" else 502, problem.code, problem.message)
        return answer(response.status, response.data)


@functools.cache
def _pool() -> Any:
    """One connection pool for the console's life (urllib3's pools are thread-safe)."""
    import urllib3

    return urllib3.PoolManager(retries=False, maxsize=8)


def answer(status: int, data: bytes) -> Answer:
    """The API's answer for the page: its JSON as given, IAM's refusal as one plain sentence."""
    try:
        parsed: Any = json.loads(data) if data else None
    except ValueError:
        parsed = None
    has_code = isinstance(parsed, Mapping) and isinstance(parsed.get("code"), str)
    if status == 403 and not has_code:
        return error(403, "forbidden", IAM_REFUSAL)
    if status >= 400 and not has_code:
        text = " ".join(data.decode("utf-8", "replace").split())[:300]
        message = parsed.get("message") if isinstance(parsed, Mapping) else None
        return error(status, f"http_{status}", str(message or text or f"HTTP {status}"))
    if parsed is None and status != 204:
        return error(502, "bad_gateway", "the admin API answered with something that is not JSON")
    return Answer(status, parsed)

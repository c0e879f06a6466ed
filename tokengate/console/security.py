"""Who may talk to the console: the browser that opened the one-time URL, and nothing else.

The console listens on loopback, but loopback is not a boundary: every local process, and every
web page the user's browser shows, can send requests to it. So, as Jupyter does:

- the URL printed at start carries a random per-run secret; ``GET /login?secret=...`` exchanges it
  once for a session cookie (``HttpOnly``: no script reads it; ``SameSite=Strict``: no other site's
  page sends it), and every other request needs that cookie;
- the ``Host`` header must name the console itself: a DNS-rebinding page (``evil.example``
  resolving to 127.0.0.1) arrives with its own host name and is refused, cookie or not;
- a state-changing request (anything but GET and HEAD) must carry the console's own ``Origin``;
- every response carries a strict Content-Security-Policy (scripts only from the console's own
  files, never inline), and is neither framed, cached, nor given a referrer.

The guard is plain ASGI around the app, so no route can forget it.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

from tokengate.local.location import HOST

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOGIN_PATH = "/login"
SAFE_METHODS = frozenset({"GET", "HEAD"})
#: Scripts, styles, images and calls from the console's own origin only; no inline script or
#: style, no plugin, no frame, no form posted elsewhere. Chart.js and Preact style elements through
#: the CSSOM (``element.style``), which style-src does not govern.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    # A page that showed a token is never kept by the browser's cache or back-forward cache.
    (b"cache-control", b"no-store"),
)


class Guard:
    """The checks above, for a console listening on ``127.0.0.1:<port>``."""

    def __init__(self, app: ASGIApp, port: int) -> None:
        self.app = app
        self.port = port
        self.login_secret = secrets.token_urlsafe(32)
        self._session = secrets.token_urlsafe(32)
        self._login_used = False
        self._lock = threading.Lock()
        # Cookies are per host, not per port: each console (each port) keeps its own name.
        self.cookie_name = f"tokengate_console_{port}"
        self.hosts = frozenset({f"{HOST}:{port}", f"localhost:{port}"})
        self.origins = frozenset(f"http://{host}" for host in self.hosts)

    @property
    def login_url(self) -> str:
        return f"http://{HOST}:{self.port}{LOGIN_PATH}?secret={self.login_secret}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return  # no websockets; lifespan is off
        refusal = self.refusal(scope)
        if refusal is not None:
            status, code, message = refusal
            await _respond(send, status, {"code": code, "message": message})
            return
        if scope["path"] == LOGIN_PATH:
            await self._login(scope, send)
            return

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                extra = [header for header in SECURITY_HEADERS if header[0] not in names]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, secured)

    def refusal(self, scope: Scope) -> tuple[int, str, str] | None:
        """Why this request is refused (status, code, message), or None to let it through."""
        headers = _headers(scope)
        if headers.get("host") not in self.hosts:
            return 403, "host_refused", "this request names another host (the console answers only itself)"
        if scope["method"] not in SAFE_METHODS and headers.get("origin") not in self.origins:
            return 403, "origin_refused", "a change must come from the console's own page"
        if scope["path"] == LOGIN_PATH:
            return None
        if not self.has_session(headers):
            return 401, "no_session", "open the URL that `tokengate console` printed"
        return None

    def has_session(self, headers: dict[str, str]) -> bool:
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # noqa: BLE001 - http.cookies raises CookieError and others on junk
            return False
        morsel = cookie.get(self.cookie_name)
        return morsel is not None and hmac.compare_digest(morsel.value.encode(), self._session.encode())

    def exchange(self, secret: str) -> bool:
        """Spend the one-time secret: True the first time it is presented, never again."""
        with self._lock:
            if self._login_used or not hmac.compare_digest(secret.encode(), self.login_secret.encode()):
                return False
            self._login_used = True
            return True

    async def _login(self, scope: Scope, send: Send) -> None:
        if scope["method"] != "GET":
            await _respond(send, 405, {"code": "method_not_allowed", "message": "GET only"})
            return
        given = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("secret", [""])[0]
        if self.has_session(_headers(scope)) or self.exchange(given):
            cookie = f"{self.cookie_name}={self._session}; HttpOnly; SameSite=Strict; Path=/"
            headers = [(b"location", b"/"), (b"set-cookie", cookie.encode()), *SECURITY_HEADERS]
            await send({"type": "http.response.start", "status": 303, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        await _respond(
            send,
            403,
            {
                "code": "login_refused",
                "message": "this login link was used already or belongs to another run: "
                "restart `tokengate console` for a new one",
            },
        )


def _headers(scope: Scope) -> dict[str, str]:
    """The request's headers, names lowercased; a repeated header keeps its first value."""
    found: dict[str, str] = {}
    for name, value in scope.get("headers", []):
        found.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return found


async def _respond(send: Send, status: int, body: dict[str, str]) -> None:
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": [*headers, *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": data})

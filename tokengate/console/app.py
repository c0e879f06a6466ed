"""The console's routes: the page and its files, the page's settings, the forwarded admin API, and
the lifecycle events. :class:`~tokengate.console.security.Guard` wraps all of them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from tokengate.console import forward
from tokengate.console.events import MAX_EVENTS, EventSource, EventsUnavailable, Wanted
from tokengate.console.security import Guard
from tokengate_core.deployment.routes import admin_route
from tokengate_core.records.rules import TENANT_PATTERN
from tokengate_core.tokens.format import KEY_ID_PATTERN

STATIC_DIR = Path(__file__).resolve().parent / "static"
ADMIN_PREFIX = "/api"  # the page calls /api/admin/...: the admin path follows
FORWARD_METHODS = ["GET", "POST", "PATCH", "DELETE"]
_TENANT = re.compile(TENANT_PATTERN)
_CLIENT_ID = re.compile(KEY_ID_PATTERN)


@dataclass(frozen=True)
class Console:
    upstream: forward.Upstream
    events: EventSource | None
    #: What the page is told at start (target, token format, patterns, ...): see settings.py.
    settings: dict[str, Any]


def _json(answer: forward.Answer) -> JSONResponse:
    return JSONResponse(answer.body, status_code=answer.status)


def build(console: Console, port: int) -> Guard:
    """The ASGI app for a console on ``127.0.0.1:<port>``, behind its guard."""

    async def index(_: Request) -> Response:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    async def settings(_: Request) -> Response:
        return JSONResponse(console.settings)

    async def admin(request: Request) -> Response:
        path = request.url.path.removeprefix(ADMIN_PREFIX)
        matched = forward.match(request.method, path, list(request.query_params.multi_items()))
        if isinstance(matched, forward.Answer):
            return _json(matched)
        body = forward.json_body(await _capped_body(request))
        if isinstance(body, forward.Answer):
            return _json(body)
        return _json(await run_in_threadpool(console.upstream.call, request.method, matched.path, matched.query, body))

    async def events(request: Request) -> Response:
        return _json(await run_in_threadpool(recent_events, console, dict(request.query_params)))

    routes = [
        Route("/", index, methods=["GET"]),
        Route("/api/settings", settings, methods=["GET"]),
        Route("/api/events", events, methods=["GET"]),
        Route("/api/admin/{path:path}", admin, methods=FORWARD_METHODS),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    return Guard(Starlette(routes=routes), port)


async def _capped_body(request: Request) -> bytes:
    """The body, read no further than one byte past the limit (json_body refuses it then)."""
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > forward.MAX_BODY_BYTES:
            break
    return bytes(data)


def recent_events(console: Console, query: dict[str, str]) -> forward.Answer:
    """A client's, a tenant's or the deployment's latest events, to a caller the admin API lets
    read that client, that tenant or the deployment's keys: IAM decides, as for every call."""
    tenant, client_id, limit = query.get("tenant"), query.get("client_id"), query.get("limit", "50")
    if tenant is not None and not _TENANT.fullmatch(tenant):
        return forward.error(400, "invalid_query", "tenant is not a tenant id")
    if client_id is not None and (tenant is None or not _CLIENT_ID.fullmatch(client_id)):
        return forward.error(400, "invalid_query", "client_id is not a client id, or has no tenant")
    if not limit.isdigit() or not 1 <= int(limit) <= MAX_EVENTS:
        return forward.error(400, "invalid_query", f"limit is a whole number from 1 to {MAX_EVENTS}")
    if client_id is not None:
        gate = console.upstream.call("GET", admin_route("get_client").path.format(tenant=tenant, client_id=client_id))
    elif tenant is not None:
        path = admin_route("list_clients").path.format(tenant=tenant)
        gate = console.upstream.call("GET", path, [("limit", "1")])
    else:
        gate = console.upstream.call("GET", admin_route("get_keys").path)
    if gate.status != 200:
        return gate
    if console.events is None:
        return forward.Answer(200, {"events": [], "source": None})
    try:
        found = console.events.recent(Wanted(tenant, client_id, int(limit)))
    except EventsUnavailable as error:
        return forward.error(503, "events_unavailable", str(error))
    return forward.Answer(200, {"events": found, "source": console.events.description})

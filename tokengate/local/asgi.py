"""The local stage over HTTP: Starlette routes from the route table, each request handed to
:class:`~tokengate.local.gateway.Gateway` as a plain value and its answer sent back as is.

Starlette only matches paths here; what API Gateway does with a request is the gateway's.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import Executor
from functools import partial

from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Router
from starlette.routing import Route as StarletteRoute
from starlette.types import Receive, Scope, Send

from tokengate.local.gateway import MAX_PAYLOAD_BYTES, Gateway, HttpRequest, HttpResponse, message_response
from tokengate_core.deployment.routes import ROUTES, Route

ANY_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def asgi_app(gateway: Gateway, executor: Executor, extra_routes: Sequence[BaseRoute] = ()) -> Router:
    """Starlette routes from the route table, under /<stage>, after ``extra_routes`` (the local
    stack's own controls, outside any stage); anything else is API Gateway's 404."""
    by_path: dict[str, list[Route]] = defaultdict(list)
    for route in ROUTES:
        by_path[route.path].append(route)
    ordered = sorted(by_path.items(), key=lambda item: ("+}" in item[0], -len(item[0])))
    routes = [
        StarletteRoute(
            f"/{gateway.config.stage}{_starlette_path(path)}",
            partial(_endpoint, gateway, executor, candidates),
            methods=ANY_METHODS,
        )
        for path, candidates in ordered
    ]
    return Router(routes=[*extra_routes, *routes], redirect_slashes=False, default=_not_found)


async def _endpoint(gateway: Gateway, executor: Executor, candidates: list[Route], request: Request) -> Response:
    method = request.method.upper()
    route = next((r for r in candidates if r.method == method), None) or next(
        (r for r in candidates if r.method == "ANY"), None
    )
    params = {k: str(v) for k, v in request.path_params.items()}
    if route is None or any(not v for v in params.values()):
        return _to_starlette(message_response(404, "Not Found"))
    declared = request.headers.get("content-length", "0")
    if declared.isdigit() and int(declared) > MAX_PAYLOAD_BYTES:
        return _to_starlette(message_response(413, "Request Entity Too Large"))
    body = await request.body()
    if len(body) > MAX_PAYLOAD_BYTES:
        return _to_starlette(message_response(413, "Request Entity Too Large"))
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    client = request.client
    incoming = HttpRequest(
        method=method,
        scheme=request.url.scheme,
        http_version=str(request.scope.get("http_version", "1.1")),
        raw_path=raw_path.decode("latin-1"),
        path=request.url.path[len(gateway.config.stage) + 1 :],
        raw_query=request.scope.get("query_string", b"").decode("latin-1"),
        headers=[(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in request.headers.raw],
        body=body,
        source_ip=client.host if client else "127.0.0.1",
    )
    loop = asyncio.get_running_loop()
    response = await loop.run_in_executor(executor, gateway.handle, route, incoming, params)
    return _to_starlette(response)


class _GreedyConvertor(Convertor[str]):
    """API Gateway's ``{name+}``: one or more of any character, slashes and (decoded) newlines too."""

    regex = r"[\s\S]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("apigw_greedy", _GreedyConvertor())


def _starlette_path(template: str) -> str:
    """``{proxy+}`` becomes ``{proxy:apigw_greedy}``; ``{name}`` stays one segment."""
    return template.replace("+}", ":apigw_greedy}")


def _to_starlette(response: HttpResponse) -> Response:
    out = Response(content=response.body, status_code=response.status)
    out.raw_headers = [
        *[(k, v) for k, v in out.raw_headers if k == b"content-length"],
        *[(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers],
    ]
    return out


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    await _to_starlette(message_response(404, "Not Found"))(scope, receive, send)

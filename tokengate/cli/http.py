"""HTTP for the CLI: one call over urllib3, SigV4-signed by botocore for the admin API.

Every failure becomes a one-line :class:`CliError`; messages name the endpoint, never the full URL,
which may carry a signature.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from tokengate.cli.errors import EXIT_UNREACHABLE, CliError
from tokengate.cli.target import Target, is_loopback, resolve_target

STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    413: "payload_too_large",
    429: "too_many_requests",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}


def send(
    method: str, url: str, *, base_url: str, timeout: float, body: bytes = b"", headers: Mapping[str, str] | None = None
) -> Any:
    """One HTTP call; the parsed JSON body on success, CliError otherwise (``base_url`` names the
    endpoint in messages, never the full URL, which may carry a signature)."""
    import urllib3

    http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=5.0, read=timeout))
    try:
        response = http.request(method, url, body=body or None, headers=dict(headers or {}), redirect=False)
    except urllib3.exceptions.HTTPError as error:
        raise unreachable(base_url, error) from None
    text = response.data.decode("utf-8", "replace")
    try:
        parsed: Any = json.loads(text) if text else None
    except ValueError:
        parsed = None
    if response.status >= 400:
        raise api_error(response.status, parsed, text)
    return parsed


class AdminClient:
    def __init__(self, target: Target, timeout: float = 30.0) -> None:
        self.target = target
        self.timeout = timeout

    def call(self, method: str, path: str, body: Any = None, query: Mapping[str, str] | None = None) -> Any:
        """One signed call; the parsed JSON body on success, CliError otherwise."""
        from botocore.credentials import Credentials

        from tokengate.sigv4 import sign

        url = f"{self.target.base_url}{path}"
        if query:
            url += "?" + "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query.items())
        data = b"" if body is None else json.dumps(body).encode()
        headers = {"content-type": "application/json"} if body is not None else {}
        credentials = Credentials(self.target.access_key, self.target.secret_key, self.target.token)
        signed = sign(method, url, credentials=credentials, region=self.target.region, body=data, headers=headers)
        return send(
            method,
            signed.url,
            base_url=self.target.base_url,
            timeout=self.timeout,
            body=signed.body,
            headers=signed.headers,
        )


def unreachable(base_url: str, error: Exception) -> CliError:
    """The failure to reach ``base_url``, with the hint that fits it: the local stack, or a
    deployed one."""
    import urllib3

    if isinstance(error, urllib3.exceptions.NameResolutionError):
        reason = "unknown host"
    elif isinstance(error, urllib3.exceptions.NewConnectionError):
        reason = "connection refused"
    elif isinstance(error, urllib3.exceptions.TimeoutError):
        reason = "no answer in time"
    else:
        reason = type(error).__name__
    code = "timeout" if reason == "no answer in time" else "unreachable"
    if is_loopback(base_url):
        hint = "is `tokengate local` running on that port? (`make run` starts it)"
    else:
        hint = "check the URL (--endpoint, --stack-name, $TOKENGATE_ENDPOINT) and your network"
    return CliError(code, f"cannot reach {base_url} ({reason}): {hint}", EXIT_UNREACHABLE)


def admin_client(args: argparse.Namespace) -> AdminClient:
    """The admin API of the stage the command line (and environment) names."""
    return AdminClient(resolve_target(args, os.environ), timeout=args.timeout)


def api_error(status: int, parsed: Any, text: str) -> CliError:
    code = STATUS_CODES.get(status, f"http_{status}")
    if isinstance(parsed, dict) and isinstance(parsed.get("message"), str):
        code = str(parsed.get("code") or code)
        message = parsed["message"]
        details = parsed.get("details")
        if isinstance(details, list) and details and isinstance(details[0], dict):
            first = details[0]
            where = ".".join(str(p) for p in first.get("loc", []))
            message += f" ({where}: {first.get('msg', '')})" if where else f" ({first.get('msg', '')})"
        return CliError(code, " ".join(message.split()))
    return CliError(code, " ".join(text.split())[:300] or f"HTTP {status}")

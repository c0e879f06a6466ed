"""The `tokengate` command: manage clients through the admin API, and run the local stack.

Every admin call is signed with SigV4 by botocore (service execute-api) and sent with urllib3.
Against the local stack the CLI uses the local admin's credentials from the state folder; against
a deployed stack, the standard AWS credential chain (profiles, environment, SSO).
Expected failures print one line, ``error: <code>: <message>``, and exit non-zero.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import quote, urlsplit

from tokengate import capacity

EXIT_API_ERROR = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
PORT_ENV = "TOKENGATE_PORT"
DEFAULT_PORT = 8080
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
TOKEN_NOTICE = "shown once: store it now, it cannot be retrieved again"
EPILOG = """\
endpoint: --endpoint URL (the stage URL, e.g. http://127.0.0.1:8080/dev), or --stack-name NAME
(reads the deployed stack's ApiUrl output), else $TOKENGATE_ENDPOINT, else the local stack at
http://127.0.0.1:${TOKENGATE_PORT:-8080}/dev. Local stack: credentials from <state dir>/credentials.json
(--state-dir, default ${TOKENGATE_HOME:-.tokengate}); deployed stack: the AWS credential chain.
exit status: 0 ok, 1 the API refused, 2 usage, 3 endpoint or credentials unavailable."""


class CliError(Exception):
    def __init__(self, code: str, message: str, exit_code: int = EXIT_API_ERROR) -> None:
        super().__init__(f"{code}: {message}")
        self.exit_code = exit_code


# -- endpoint and credentials -------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    base_url: str  # the stage URL, no trailing slash
    access_key: str
    secret_key: str
    token: str | None
    region: str


def _default_endpoint(environ: Mapping[str, str]) -> str:
    return environ.get("TOKENGATE_ENDPOINT") or f"http://127.0.0.1:{env_port(environ)}/dev"


def port_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise ValueError("not a port number (0-65535)")
    return value


def env_port(environ: Mapping[str, str]) -> int:
    """TOKENGATE_PORT, or 8080; a bad value is a one-line error naming the variable."""
    try:
        return port_number(environ.get(PORT_ENV, str(DEFAULT_PORT)))
    except ValueError as error:
        raise CliError("invalid_configuration", f"{PORT_ENV}: {error}", EXIT_USAGE) from None


def _stage_url(url: str) -> str:
    url = url.rstrip("/")
    if url.endswith("/admin"):
        url = url[: -len("/admin")]  # AdminBaseUrl is accepted too
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CliError("invalid_endpoint", f"not an http(s) URL: {url!r}", EXIT_USAGE)
    return url


def _region_from_url(url: str) -> str | None:
    match = re.search(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com", urlsplit(url).netloc)
    return match.group(1) if match else None


def resolve_target(args: argparse.Namespace, environ: Mapping[str, str]) -> Target:
    if args.endpoint and args.stack_name:
        raise CliError("usage", "give --endpoint or --stack-name, not both", EXIT_USAGE)
    if args.stack_name:
        return _aws_target(args, _stack_url(args))
    url = _stage_url(args.endpoint or _default_endpoint(environ))
    source = args.credentials or ("aws" if args.profile or urlsplit(url).hostname not in LOOPBACK else "local")
    if source == "local":
        return _local_target(args, url, environ)
    return _aws_target(args, url)


def _local_target(args: argparse.Namespace, url: str, environ: Mapping[str, str]) -> Target:
    from tokengate.local.state import CREDENTIALS_FILE, read_local_credentials

    state_dir = Path(args.state_dir or environ.get("TOKENGATE_HOME", ".tokengate"))
    found = read_local_credentials(state_dir, environ)
    if found is None:
        raise CliError(
            "no_credentials",
            f"no local admin credentials in {state_dir / CREDENTIALS_FILE}: start the local stack "
            "(`tokengate local`) first, or point --state-dir at its state folder",
            EXIT_UNREACHABLE,
        )
    key, secret, region = found
    return Target(url, key, secret, None, args.region or region or "us-east-1")


def _session(args: argparse.Namespace) -> Any:
    import boto3
    from botocore.exceptions import ProfileNotFound

    try:
        return boto3.Session(profile_name=args.profile, region_name=args.region)
    except ProfileNotFound as error:
        raise CliError("no_credentials", str(error), EXIT_UNREACHABLE) from None


def _aws_target(args: argparse.Namespace, url: str) -> Target:
    session = _session(args)
    credentials = session.get_credentials()
    if credentials is None:
        raise CliError("no_credentials", "no AWS credentials found (configure a profile)", EXIT_UNREACHABLE)
    frozen = credentials.get_frozen_credentials()
    loopback = urlsplit(url).hostname in LOOPBACK
    # The local stack's region, not the profile's: a signature scoped to another region is refused.
    region = args.region or _region_from_url(url) or ("us-east-1" if loopback else session.region_name)
    if not region:
        raise CliError("no_region", "cannot tell the API's region: pass --region", EXIT_USAGE)
    return Target(url, frozen.access_key, frozen.secret_key, frozen.token, region)


def _stack_url(args: argparse.Namespace) -> str:
    from botocore.exceptions import BotoCoreError, ClientError

    session = _session(args)
    try:
        stacks = session.client("cloudformation").describe_stacks(StackName=args.stack_name)["Stacks"]
    except ClientError as error:
        message = error.response.get("Error", {}).get("Message", str(error))
        raise CliError("stack_not_found", message, EXIT_UNREACHABLE) from None
    except BotoCoreError as error:
        raise CliError("aws_unavailable", str(error), EXIT_UNREACHABLE) from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    url = outputs.get("ApiUrl") or outputs.get("AdminBaseUrl")
    if not url:
        raise CliError("stack_not_found", f"stack {args.stack_name} has no ApiUrl output", EXIT_UNREACHABLE)
    return _stage_url(url)


# -- HTTP ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiResponse:
    status: int
    body: Any


class AdminClient:
    def __init__(self, target: Target, timeout: float = 30.0) -> None:
        import urllib3

        self.target = target
        self._http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=5.0, read=timeout))

    def call(self, method: str, path: str, body: Any = None, query: Mapping[str, str] | None = None) -> Any:
        """One signed call; the parsed JSON body on success, CliError otherwise."""
        import urllib3
        from botocore.credentials import Credentials

        from tokengate.sigv4 import sign

        url = f"{self.target.base_url}{path}"
        if query:
            url += "?" + "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query.items())
        data = b"" if body is None else json.dumps(body).encode()
        headers = {"content-type": "application/json"} if body is not None else {}
        credentials = Credentials(self.target.access_key, self.target.secret_key, self.target.token)
        signed = sign(method, url, credentials=credentials, region=self.target.region, body=data, headers=headers)
        try:
            response = self._http.request(
                method, signed.url, body=signed.body or None, headers=signed.headers, redirect=False
            )
        except urllib3.exceptions.NewConnectionError:
            raise CliError(
                "unreachable",
                f"cannot connect to {self.target.base_url} (connection refused; is `tokengate local` running?)",
                EXIT_UNREACHABLE,
            ) from None
        except urllib3.exceptions.TimeoutError:
            raise CliError("timeout", f"no answer from {self.target.base_url} in time", EXIT_UNREACHABLE) from None
        except urllib3.exceptions.HTTPError as error:
            raise CliError("unreachable", f"{self.target.base_url}: {type(error).__name__}", EXIT_UNREACHABLE) from None
        text = response.data.decode("utf-8", "replace")
        try:
            parsed: Any = json.loads(text) if text else None
        except ValueError:
            parsed = None
        if response.status >= 400:
            raise _api_error(response.status, parsed, text)
        return parsed


def _api_error(status: int, parsed: Any, text: str) -> CliError:
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


# -- output -------------------------------------------------------------------------------------------


def _when(value: Any) -> str:
    if not value:
        return "-"
    try:
        return datetime.fromisoformat(str(value)).strftime("%Y-%m-%d %H:%M:%SZ")
    except ValueError:
        return str(value)


def _table(rows: Sequence[Sequence[str]], header: Sequence[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]]
    return "\n".join(lines)


def _client_lines(client: Mapping[str, Any]) -> list[str]:
    rotation = client.get("rotation") or {}
    fields = [
        ("client id", client.get("client_id")),
        ("tenant", client.get("tenant")),
        ("name", client.get("client_name")),
        ("status", client.get("status")),
        ("enabled", str(client.get("enabled")).lower()),
        ("scopes", ", ".join(client["scopes"]) if client.get("scopes") else "-"),
        ("expires", _when(client.get("expires_at"))),
        ("created", f"{_when(client.get('created_at'))} by {client.get('created_by') or '-'}"),
    ]
    if client.get("updated_by"):
        fields.append(("updated", f"{_when(client.get('updated_at'))} by {client.get('updated_by')}"))
    if rotation:
        period = rotation.get("period_days")
        fields.append(
            (
                "rotation",
                f"{'every ' + str(period) + ' days' if period else 'manual'}; "
                f"grace {rotation.get('grace_seconds')} s; last {_when(client.get('rotated_at'))}",
            )
        )
        if rotation.get("previous_token_valid_until"):
            fields.append(("previous token", f"valid until {_when(rotation['previous_token_valid_until'])}"))
    if client.get("reader_arn"):
        fields.append(("reader", client["reader_arn"]))
    if client.get("revoked_at"):
        fields.append(("revoked", f"{_when(client.get('revoked_at'))} by {client.get('revoked_by') or '-'}"))
    width = max(len(k) for k, _ in fields)
    return [f"{k.ljust(width)}  {v if v is not None else '-'}" for k, v in fields]


def _emit(args: argparse.Namespace, data: Any, human: Callable[[], str]) -> None:
    if args.output == "json":
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        print(human())


def _emit_issued(args: argparse.Namespace, issued: Mapping[str, Any], verb: str) -> None:
    token = str(issued.get("token", ""))
    if args.output == "token":
        print(f"note: token {TOKEN_NOTICE}", file=sys.stderr)
        print(token)
        return
    client = issued.get("client") or {}

    def human() -> str:
        lines = [f"{verb} client {client.get('client_name')} (tenant {client.get('tenant')})", ""]
        lines += _client_lines(client)
        lines += ["", f"token ({TOKEN_NOTICE}):", token]
        return "\n".join(lines)

    _emit(args, issued, human)


# -- commands -----------------------------------------------------------------------------------------


def _clients_path(tenant: str, client: str | None = None, action: str | None = None) -> str:
    path = f"/admin/tenants/{quote(tenant, safe='')}/clients"
    if client is not None:
        path += f"/{quote(client, safe='')}"
    if action is not None:
        path += f"/{action}"
    return path


def _client_id(tenant: str, value: str) -> str:
    """A client id as given, or derived from the client's name (ids are derived from tenant + name)."""
    from tokengate import use_services_path

    use_services_path()
    from tokengate_core import tokens
    from tokengate_core.models import CLIENT_NAME_PATTERN

    if tokens.is_key_id(value):
        return value
    if re.match(CLIENT_NAME_PATTERN, value):
        return tokens.derive_key_id(tenant, value)
    raise CliError("usage", f"{value!r} is neither a client id nor a client name", EXIT_USAGE)


def _admin(args: argparse.Namespace) -> AdminClient:
    return AdminClient(resolve_target(args, os.environ), timeout=args.timeout)


def cmd_issue(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"client_name": args.name}
    if args.scope:
        body["scopes"] = args.scope
    for field_name in ("ttl_seconds", "expires_at", "rotation_period_days", "grace_seconds", "reader_arn"):
        value = getattr(args, field_name)
        if value is not None:
            body[field_name] = value
    issued = _admin(args).call("POST", _clients_path(args.tenant), body)
    _emit_issued(args, issued, "issued")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    admin = _admin(args)
    items: list[dict[str, Any]] = []
    next_token: str | None = None
    for _ in range(1000):
        query = {"limit": str(args.limit)}
        if args.status:
            query["status"] = args.status
        if next_token:
            query["next_token"] = next_token
        page = admin.call("GET", _clients_path(args.tenant), query=query)
        items += page.get("items", [])
        next_token = page.get("next_token")
        if not next_token:
            break

    def human() -> str:
        if not items:
            return f"no clients in tenant {args.tenant}"
        rows = [
            [
                c.get("client_id", ""),
                c.get("client_name", ""),
                c.get("status", ""),
                _when(c.get("expires_at")),
                _when(c.get("created_at")),
            ]
            for c in items
        ]
        return _table(rows, ["CLIENT ID", "NAME", "STATUS", "EXPIRES", "CREATED"])

    _emit(args, {"items": items}, human)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    client = _admin(args).call("GET", _clients_path(args.tenant, _client_id(args.tenant, args.client)))
    _emit(args, client, lambda: "\n".join(_client_lines(client)))
    return 0


def cmd_update(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {}
    if args.enabled is not None:
        body["enabled"] = args.enabled
    if args.scope:
        body["scopes"] = args.scope
    if args.no_expiry:
        body["expires_at"] = None
    elif args.expires_at is not None:
        body["expires_at"] = args.expires_at
    if args.no_rotation:
        body["rotation_period_days"] = None
    elif args.rotation_period_days is not None:
        body["rotation_period_days"] = args.rotation_period_days
    if args.grace_seconds is not None:
        body["grace_seconds"] = args.grace_seconds
    if not body:
        raise CliError("usage", "nothing to update: give at least one option (see --help)", EXIT_USAGE)
    path = _clients_path(args.tenant, _client_id(args.tenant, args.client))
    client = _admin(args).call("PATCH", path, body)
    _emit(args, client, lambda: "\n".join(["updated", *_client_lines(client)]))
    return 0


def _simple_action(method: str, action: str | None, verb: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        path = _clients_path(args.tenant, _client_id(args.tenant, args.client), action)
        client = _admin(args).call(method, path)
        _emit(args, client, lambda: "\n".join([verb, *_client_lines(client)]))
        return 0

    return run


def cmd_rotate(args: argparse.Namespace) -> int:
    path = _clients_path(args.tenant, _client_id(args.tenant, args.client), "rotate")
    issued = _admin(args).call("POST", path)
    _emit_issued(args, issued, "rotated")
    return 0


def cmd_openapi(args: argparse.Namespace) -> int:
    document = _admin(args).call("GET", "/admin/openapi.json")
    print(json.dumps(document, indent=2))
    return 0


def cmd_local(args: argparse.Namespace) -> int:
    from tokengate.local.server import LocalOptions, StartupError, serve

    options = LocalOptions(
        host=args.host,
        port=env_port(os.environ) if args.port is None else args.port,
        stage=args.stage,
        state_dir=Path(args.state_dir),
        region=args.region,
        authorizer_cache_ttl=args.authorizer_cache_ttl,
        rotation_check_interval=args.rotation_check_interval,
    )
    try:
        return serve(options, os.environ)
    except StartupError as error:
        raise CliError("local", str(error), EXIT_API_ERROR) from None


# -- parser -------------------------------------------------------------------------------------------


def _port(text: str) -> int:
    try:
        return port_number(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def build_parser(environ: Mapping[str, str] | None = None) -> argparse.ArgumentParser:
    environ = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(
        prog="tokengate",
        description="Per-client bearer tokens for API Gateway HTTP APIs: manage clients, run the local stack.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    connection = argparse.ArgumentParser(add_help=False)
    group = connection.add_argument_group("endpoint and credentials")
    group.add_argument("--endpoint", help="stage base URL, e.g. http://127.0.0.1:8080/dev")
    group.add_argument("--stack-name", help="deployed stack whose ApiUrl output to use (default stack: TokenGate)")
    group.add_argument("--region", help="AWS region (default: from the URL, the profile, or us-east-1 locally)")
    group.add_argument("--profile", help="AWS profile for a deployed stack")
    group.add_argument(
        "--credentials",
        choices=["local", "aws"],
        help="where the signing keys come from: the local stack's state folder, or the AWS credential chain "
        "(default: local for a loopback endpoint, aws otherwise)",
    )
    group.add_argument("--state-dir", help="local stack state folder (default: ${TOKENGATE_HOME:-.tokengate})")
    group.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for an answer (default 30)")
    output = argparse.ArgumentParser(add_help=False)
    output.add_argument("--output", "-o", choices=["table", "json"], default="table", help="output format")
    issued_output = argparse.ArgumentParser(add_help=False)
    issued_output.add_argument(
        "--output",
        "-o",
        choices=["table", "json", "token"],
        default="table",
        help="output format; 'token' prints only the token (for TOKEN=$(...))",
    )
    tenant = argparse.ArgumentParser(add_help=False)
    tenant.add_argument("--tenant", "-t", required=True, help="tenant id")
    client = argparse.ArgumentParser(add_help=False)
    client.add_argument("client", metavar="CLIENT", help="client id, or the client's name")

    clients = commands.add_parser("clients", help="issue, list, show, update, revoke, restore, rotate clients")
    actions = clients.add_subparsers(dest="action", required=True, metavar="ACTION")

    issue = actions.add_parser(
        "issue", parents=[connection, issued_output, tenant], help="issue a client (its token is shown once)"
    )
    issue.add_argument("--name", "-n", required=True, help="client name, unique in the tenant")
    issue.add_argument("--scope", action="append", help="'*' or '<METHOD|ANY> <path>' (repeatable; default '*')")
    expiry = issue.add_mutually_exclusive_group()
    expiry.add_argument("--ttl-seconds", type=_positive_int, help="expire this many seconds from now")
    expiry.add_argument("--expires-at", help="expire at this ISO 8601 time (with zone)")
    issue.add_argument("--rotation-period-days", type=_positive_int, help="rotate automatically every N days")
    issue.add_argument("--grace-seconds", type=_positive_int, help="how long a rotated-out token stays valid")
    issue.add_argument("--reader-arn", help="IAM principal that may read this client's own secret")
    issue.set_defaults(func=cmd_issue)

    listing = actions.add_parser("list", parents=[connection, output, tenant], help="list a tenant's clients")
    listing.add_argument("--status", choices=["active", "disabled", "expired", "revoked"])
    listing.add_argument("--limit", type=int, default=50, help="page size (all pages are read)")
    listing.set_defaults(func=cmd_list)

    show = actions.add_parser("show", parents=[connection, output, tenant, client], help="show one client")
    show.set_defaults(func=cmd_show)

    update = actions.add_parser("update", parents=[connection, output, tenant, client], help="change a client")
    enabled = update.add_mutually_exclusive_group()
    enabled.add_argument("--enable", dest="enabled", action="store_const", const=True, default=None)
    enabled.add_argument("--disable", dest="enabled", action="store_const", const=False)
    update.add_argument("--scope", action="append", help="replace the scopes (repeatable)")
    update_expiry = update.add_mutually_exclusive_group()
    update_expiry.add_argument("--expires-at", help="new expiry (ISO 8601 with zone)")
    update_expiry.add_argument("--no-expiry", action="store_true", help="remove the expiry")
    update_rotation = update.add_mutually_exclusive_group()
    update_rotation.add_argument("--rotation-period-days", type=_positive_int)
    update_rotation.add_argument("--no-rotation", action="store_true", help="stop automatic rotation")
    update.add_argument("--grace-seconds", type=_positive_int)
    update.set_defaults(func=cmd_update)

    for name, method, action, verb, text in (
        ("revoke", "DELETE", None, "revoked", "revoke a client (restorable during the recovery window)"),
        ("restore", "POST", "restore", "restored", "restore a revoked client"),
    ):
        sub = actions.add_parser(name, parents=[connection, output, tenant, client], help=text)
        sub.set_defaults(func=_simple_action(method, action, verb))

    rotate = actions.add_parser(
        "rotate", parents=[connection, issued_output, tenant, client], help="rotate a token (new one shown once)"
    )
    rotate.set_defaults(func=cmd_rotate)

    openapi = commands.add_parser("openapi", parents=[connection], help="print the admin API's OpenAPI document")
    openapi.set_defaults(func=cmd_openapi)

    local = commands.add_parser("local", help="run the local stack (what `make run` starts)")
    local.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    local.add_argument(
        "--port",
        type=_port,
        help="port (default ${TOKENGATE_PORT:-8080}; 0 picks a free one)",
    )
    local.add_argument("--stage", default="dev", help="stage name (default dev)")
    local.add_argument(
        "--state-dir",
        default=environ.get("TOKENGATE_HOME", ".tokengate"),
        help="state folder (default ${TOKENGATE_HOME:-.tokengate})",
    )
    local.add_argument("--region", default="us-east-1", help="the local region (default us-east-1)")
    local.add_argument(
        "--authorizer-cache-ttl",
        type=float,
        default=0.0,
        help="API Gateway's authorizer result cache TTL in seconds (default 0: off)",
    )
    local.add_argument(
        "--rotation-check-interval",
        type=float,
        default=60.0,
        help="seconds between scheduled-rotation checks (default 60; 0 turns the scheduler off)",
    )
    local.set_defaults(func=cmd_local)

    capacity.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.func(args)
    except CliError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    return result


def _exit(status: int) -> NoReturn:
    sys.stdout.flush()
    raise SystemExit(status)


if __name__ == "__main__":
    _exit(main())

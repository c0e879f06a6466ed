"""The `tokengate` command: manage clients through the admin API, fetch a client's token, and run
the local stack.

Every admin call is signed with SigV4 by botocore (service execute-api) and sent with urllib3.
Against the local stack the CLI uses the local admin's credentials from the state folder; against
a deployed stack, the standard AWS credential chain (profiles, environment, SSO). `token fetch`
is a client's call instead: it presents the client's token, read from a file or the environment
(never from the command line, which other users of the machine can read).
Expected failures print one line, ``error: <code>: <message>``, and exit non-zero.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
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
#: Where `token fetch` reads the token when no --token-file is given.
TOKEN_ENV = "TOKENGATE_TOKEN"
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


def send(
    method: str, url: str, *, base_url: str, timeout: float, body: bytes = b"", headers: Mapping[str, str] | None = None
) -> Any:
    """One HTTP call; the parsed JSON body on success, CliError otherwise (``base_url`` names the
    endpoint in messages, never the full URL, which may carry a signature)."""
    import urllib3

    http = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=5.0, read=timeout))
    try:
        response = http.request(method, url, body=body or None, headers=dict(headers or {}), redirect=False)
    except urllib3.exceptions.NewConnectionError:
        raise CliError(
            "unreachable",
            f"cannot connect to {base_url} (connection refused; is `tokengate local` running?)",
            EXIT_UNREACHABLE,
        ) from None
    except urllib3.exceptions.TimeoutError:
        raise CliError("timeout", f"no answer from {base_url} in time", EXIT_UNREACHABLE) from None
    except urllib3.exceptions.HTTPError as error:
        raise CliError("unreachable", f"{base_url}: {type(error).__name__}", EXIT_UNREACHABLE) from None
    text = response.data.decode("utf-8", "replace")
    try:
        parsed: Any = json.loads(text) if text else None
    except ValueError:
        parsed = None
    if response.status >= 400:
        raise _api_error(response.status, parsed, text)
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
    if client.get("token_fetch") is not None:
        fields.append(("token fetch", "allowed (GET /token)" if client["token_fetch"] else "off"))
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


def _all_clients(admin: AdminClient, tenant: str, *, status: str | None = None, limit: int = 100) -> list[Any]:
    """Every client of a tenant (revoked ones too, unless ``status`` says otherwise), page by page."""
    items: list[Any] = []
    next_token: str | None = None
    for _ in range(10_000):
        query = {"limit": str(limit)}
        if status:
            query["status"] = status
        if next_token:
            query["next_token"] = next_token
        page = admin.call("GET", _clients_path(tenant), query=query)
        items += page.get("items", [])
        next_token = page.get("next_token")
        if not next_token:
            break
    return items


def _client_id(admin: AdminClient, tenant: str, value: str) -> str:
    """A client id as given, or the id of the tenant's client of that name. Ids are random, so a
    name is looked up in the tenant's list (revoked clients included: they can be restored)."""
    from tokengate import use_services_path

    use_services_path()
    from tokengate_core import tokens
    from tokengate_core.models import CLIENT_NAME_PATTERN

    if tokens.is_key_id(value):
        return value
    if not re.match(CLIENT_NAME_PATTERN, value):
        raise CliError("usage", f"{value!r} is neither a client id nor a client name", EXIT_USAGE)
    found = [c["client_id"] for c in _all_clients(admin, tenant) if c.get("client_name") == value]
    if not found:
        raise CliError("not_found", "client not found")
    if len(found) > 1:  # names are unique per tenant: only a broken name table could allow this
        raise CliError("conflict", f"{len(found)} clients are named {value!r}: give a client id ({', '.join(found)})")
    return str(found[0])


def _admin(args: argparse.Namespace) -> AdminClient:
    return AdminClient(resolve_target(args, os.environ), timeout=args.timeout)


def _body_fields(args: argparse.Namespace, names: Sequence[str]) -> dict[str, Any]:
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def cmd_issue(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"client_name": args.name}
    if args.scope:
        body["scopes"] = args.scope
    body.update(
        _body_fields(
            args, ("ttl_seconds", "expires_at", "rotation_period_days", "grace_seconds", "reader_arn", "token_fetch")
        )
    )
    issued = _admin(args).call("POST", _clients_path(args.tenant), body)
    _emit_issued(args, issued, "issued")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    items = _all_clients(_admin(args), args.tenant, status=args.status, limit=args.limit)

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
    admin = _admin(args)
    client = admin.call("GET", _clients_path(args.tenant, _client_id(admin, args.tenant, args.client)))
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
    body.update(_body_fields(args, ("grace_seconds", "token_fetch")))
    if not body:
        raise CliError("usage", "nothing to update: give at least one option (see --help)", EXIT_USAGE)
    admin = _admin(args)
    client = admin.call("PATCH", _clients_path(args.tenant, _client_id(admin, args.tenant, args.client)), body)
    _emit(args, client, lambda: "\n".join(["updated", *_client_lines(client)]))
    return 0


def _simple_action(method: str, action: str | None, verb: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        admin = _admin(args)
        client = admin.call(method, _clients_path(args.tenant, _client_id(admin, args.tenant, args.client), action))
        _emit(args, client, lambda: "\n".join([verb, *_client_lines(client)]))
        return 0

    return run


def cmd_rotate(args: argparse.Namespace) -> int:
    admin = _admin(args)
    issued = admin.call("POST", _clients_path(args.tenant, _client_id(admin, args.tenant, args.client), "rotate"))
    _emit_issued(args, issued, "rotated")
    return 0


def _keys_text(view: Mapping[str, Any]) -> str:
    rows = [
        [
            k.get("name", ""),
            _when(k.get("added_at")) if k.get("added_at") else "with the stack",
            "yes" if k.get("signing") else "no",
        ]
        for k in view.get("keys", [])
    ]
    lines = [_table(rows, ["KEY", "ADDED", "SIGNS NEW TOKENS"])]
    if view.get("legacy_key_ids"):
        lines.append(f"untagged tokens still accepted for {view['legacy_key_ids']} client(s) (see `tokengate migrate`)")
    return "\n".join(lines)


def cmd_keys_list(args: argparse.Namespace) -> int:
    view = _admin(args).call("GET", "/admin/keys")
    _emit(args, view, lambda: _keys_text(view))
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    from tokengate import use_services_path

    use_services_path()
    from tokengate_core.keyring import REFRESH_SECONDS

    view = _admin(args).call("POST", "/admin/keys/rotate")
    newest = (view.get("keys") or [{}])[-1]
    added = newest.get("added_at")
    since = ""
    if added:
        since = f" from {_when((datetime.fromisoformat(added) + timedelta(seconds=REFRESH_SECONDS)).isoformat())}"
    note = (
        f"added signing key {newest.get('name')}: it signs new tokens{since}, once every authorizer has loaded it; "
        "the older keys keep verifying the tokens they signed"
    )
    _emit(args, view, lambda: f"{note}\n\n{_keys_text(view)}")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    report = _admin(args).call("POST", "/admin/migrate")

    def human() -> str:
        lines = [
            f"examined {report.get('clients')} client(s); recorded {report.get('names_claimed')} name(s) as taken",
            f"untagged tokens still accepted for {report.get('legacy_key_ids')} client(s), until each rotates",
        ]
        conflicts = report.get("conflicts") or []
        if conflicts:
            lines.append(f"{len(conflicts)} client(s) whose name another client holds (rename or revoke them):")
            lines += [f"  {c}" for c in conflicts]
        return "\n".join(lines)

    _emit(args, report, human)
    return 0


def _read_token(args: argparse.Namespace, environ: Mapping[str, str]) -> str:
    """The client's token from --token-file (``-``: standard input) or $TOKENGATE_TOKEN, checked
    offline (format and checksum) so a typo is one clear line, not a 403."""
    from tokengate import use_services_path

    use_services_path()
    from tokengate_core import tokens

    if args.token_file:
        where = "standard input" if args.token_file == "-" else args.token_file
        try:
            text = sys.stdin.read() if args.token_file == "-" else Path(args.token_file).read_text()
        except OSError as error:
            raise CliError("usage", f"cannot read {where}: {error.strerror or error}", EXIT_USAGE) from None
    elif environ.get(TOKEN_ENV):
        where, text = f"${TOKEN_ENV}", environ[TOKEN_ENV]
    else:
        raise CliError(
            "usage",
            f"give --token-file FILE (or -) or set {TOKEN_ENV}; a token is never taken from the command line",
            EXIT_USAGE,
        )
    token = tokens.from_authorization_header(text.strip()) or ""
    try:
        tokens.parse(token)
    except tokens.TokenFormatError as error:
        raise CliError("invalid_token", f"{where} holds no tokengate token ({error.reason})", EXIT_USAGE) from None
    return token


def cmd_token_fetch(args: argparse.Namespace) -> int:
    from tokengate import use_services_path

    use_services_path()
    from tokengate_core.routes import DELIVERY_ROUTE

    token = _read_token(args, os.environ)
    if args.endpoint and args.stack_name:
        raise CliError("usage", "give --endpoint or --stack-name, not both", EXIT_USAGE)
    base = _stack_url(args) if args.stack_name else _stage_url(args.endpoint or _default_endpoint(os.environ))
    body = send(
        DELIVERY_ROUTE.method,
        f"{base}{DELIVERY_ROUTE.path}",
        base_url=base,
        timeout=args.timeout,
        headers={"authorization": token},
    )
    if not isinstance(body, dict) or not isinstance(body.get("token"), str):
        raise CliError("bad_response", f"{base}{DELIVERY_ROUTE.path} answered without a token")
    print(json.dumps(body, indent=2, sort_keys=True) if args.output == "json" else body["token"])
    return 0


def cmd_rotate_due(args: argparse.Namespace) -> int:
    from tokengate.local.control import ROTATE_DUE_PATH

    target = resolve_target(args, os.environ)
    parts = urlsplit(target.base_url)
    if parts.hostname not in LOOPBACK:
        raise CliError("usage", "rotate-due drives a local stack: give its loopback --endpoint", EXIT_USAGE)
    origin = AdminClient(dataclasses.replace(target, base_url=f"{parts.scheme}://{parts.netloc}"), args.timeout)
    result = origin.call("POST", ROTATE_DUE_PATH, {"advance_days": args.advance})
    runs = result.get("rotations") or []

    def human() -> str:
        when = f"{_when(result.get('clock'))} (now + {args.advance:g} days)" if args.advance else "now"
        if not runs:
            return f"no client is due for rotation at {when}"
        rows = [
            [r.get("client_id", ""), "rotated" if r.get("ok") else f"failed at {r.get('failed_step')}"] for r in runs
        ]
        return f"scheduled rotations due at {when}:\n" + _table(rows, ["CLIENT ID", "RESULT"])

    _emit(args, result, human)
    return 0 if all(r.get("ok") for r in runs) else EXIT_API_ERROR


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


TOKEN_FETCH_HELP = (
    "let the client fetch its current token at GET /token with the token it holds "
    "(how a rotated token reaches a client with no IAM identity)"
)


def build_parser(environ: Mapping[str, str] | None = None) -> argparse.ArgumentParser:
    environ = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(
        prog="tokengate",
        description="Per-client bearer tokens for API Gateway HTTP APIs: manage clients and keys, fetch a "
        "client's token, run the local stack.",
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
    issue.add_argument("--token-fetch", action=argparse.BooleanOptionalAction, help=TOKEN_FETCH_HELP)
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
    update.add_argument("--token-fetch", action=argparse.BooleanOptionalAction, help=TOKEN_FETCH_HELP)
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

    keys = commands.add_parser("keys", help="the deployment's signing keys (token tags)")
    key_actions = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    key_actions.add_parser(
        "list", parents=[connection, output], help="list the signing keys (names and ages, never values)"
    ).set_defaults(func=cmd_keys_list)
    key_actions.add_parser(
        "rotate", parents=[connection, output], help="add a signing key; the old ones keep verifying"
    ).set_defaults(func=cmd_keys_rotate)

    migrate = commands.add_parser(
        "migrate",
        parents=[connection, output],
        help="once after upgrading: record existing clients' names and keep their untagged tokens working",
    )
    migrate.set_defaults(func=cmd_migrate)

    token = commands.add_parser("token", help="a client's own calls, made with its token")
    token_actions = token.add_subparsers(dest="action", required=True, metavar="ACTION")
    fetch = token_actions.add_parser(
        "fetch",
        parents=[connection],
        help=f"print the client's current token (GET /token), presenting the token it holds (file or ${TOKEN_ENV})",
    )
    fetch.add_argument("--token-file", help=f"file holding the token ('-': standard input; default ${TOKEN_ENV})")
    fetch.add_argument(
        "--output",
        "-o",
        choices=["token", "json"],
        default="token",
        help="'token' (default) prints only the token; 'json' the whole answer",
    )
    fetch.set_defaults(func=cmd_token_fetch)

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
        help="seconds between scheduled-rotation checks (default 60; 0 turns the timer off)",
    )
    local.set_defaults(func=cmd_local)
    local_actions = local.add_subparsers(dest="local_action", metavar="ACTION")
    rotate_due = local_actions.add_parser(
        "rotate-due",
        parents=[connection, output],
        help="ask the running local stack to run its rotation scheduler now",
        description="Run the running local stack's rotation scheduler now, rotating every client due DAYS "
        "from now (the rotations themselves happen now: grace windows run on the real clock).",
    )
    rotate_due.add_argument(
        "--advance",
        type=float,
        default=0.0,
        metavar="DAYS",
        help="pick the clients due this many days from now (default 0; the stack checks the range)",
    )
    rotate_due.set_defaults(func=cmd_rotate_due)

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
    except BrokenPipeError:
        # The reader stopped reading (`tokengate openapi | head`): nothing went wrong here.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return result


def _exit(status: int) -> NoReturn:
    sys.stdout.flush()
    raise SystemExit(status)


if __name__ == "__main__":
    _exit(main())

"""Which stage the CLI talks to, and with whose keys.

Against the local stack the CLI signs with the local admin's credentials from the state folder;
against a deployed stack, with the standard AWS credential chain (profiles, environment, SSO).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tokengate.cli.errors import EXIT_UNREACHABLE, EXIT_USAGE, CliError

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
PORT_ENV = "TOKENGATE_PORT"
DEFAULT_PORT = 8080


@dataclass(frozen=True)
class Target:
    base_url: str  # the stage URL, no trailing slash
    access_key: str
    secret_key: str
    token: str | None
    region: str


def default_endpoint(environ: Mapping[str, str]) -> str:
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


def stage_url(url: str) -> str:
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


def stage_base(args: argparse.Namespace, environ: Mapping[str, str]) -> str:
    """The stage URL alone (no credentials): what a client's own calls need."""
    if args.endpoint and args.stack_name:
        raise CliError("usage", "give --endpoint or --stack-name, not both", EXIT_USAGE)
    return stack_url(args) if args.stack_name else stage_url(args.endpoint or default_endpoint(environ))


def resolve_target(args: argparse.Namespace, environ: Mapping[str, str]) -> Target:
    if args.endpoint and args.stack_name:
        raise CliError("usage", "give --endpoint or --stack-name, not both", EXIT_USAGE)
    if args.stack_name:
        return _aws_target(args, stack_url(args))
    url = stage_url(args.endpoint or default_endpoint(environ))
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


def stack_url(args: argparse.Namespace) -> str:
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
    return stage_url(url)

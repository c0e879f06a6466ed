"""Which stage the CLI talks to, and with whose keys.

The stage: ``--endpoint``/``--endpoint-url``, or ``--stack-name`` (the deployed stack's ApiUrl
output), else ``$TOKENGATE_ENDPOINT``, else the local stack (see :func:`default_endpoint`). The keys: for
a loopback stage, the local admin's from the state folder (``--state-dir``, ``$TOKENGATE_HOME``,
or the nearest ``.tokengate`` up from the current folder); otherwise, or with ``--credentials aws``
or ``--profile``, the AWS credential chain, as the AWS CLI reads it (``AWS_PROFILE``,
``AWS_REGION`` before ``AWS_DEFAULT_REGION``).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from tokengate.cli.errors import EXIT_UNREACHABLE, EXIT_USAGE, CliError
from tokengate.local import location

ENDPOINT_ENV = "TOKENGATE_ENDPOINT"
#: The AWS CLI's order: AWS_REGION first, AWS_DEFAULT_REGION (which botocore reads itself) second.
REGION_ENV = "AWS_REGION"
_EXECUTE_API_HOST = re.compile(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$")


@dataclass(frozen=True)
class Target:
    base_url: str  # the stage URL, no trailing slash
    access_key: str
    secret_key: str
    token: str | None
    region: str
    #: The AWS credential chain's credentials, which refresh themselves (an assumed role, SSO): a
    #: long-running caller (``tokengate console``) signs with their current values. None for the
    #: local admin's keys, which do not change.
    refreshable: Any = field(default=None, repr=False, compare=False)


def is_loopback(url: str) -> bool:
    return urlsplit(url).hostname in location.LOOPBACK


def default_endpoint(environ: Mapping[str, str], state_dir: str | None = None) -> str:
    """The stage when no option names one: ``$TOKENGATE_ENDPOINT``, else the local stack on
    ``$TOKENGATE_PORT``, else the local stack running on the state folder (``--state-dir``,
    ``$TOKENGATE_HOME`` or the nearest ``.tokengate``), at the URL it recorded whatever its port,
    else the local stack's default URL."""
    from tokengate.local.running import running_stage_url

    if environ.get(ENDPOINT_ENV):
        return environ[ENDPOINT_ENV]
    try:
        port = location.env_port(environ)
    except ValueError as error:
        raise CliError("invalid_configuration", str(error), EXIT_USAGE) from None
    if location.PORT_ENV not in environ:
        recorded = running_stage_url(location.state_dir(state_dir, environ))
        if recorded is not None:
            return recorded
    return location.stage_url(location.HOST, port, location.DEFAULT_STAGE)


def stage_url(url: str) -> str:
    url = url.rstrip("/")
    if url.endswith("/admin"):
        url = url[: -len("/admin")]  # AdminBaseUrl is accepted too
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CliError("invalid_endpoint", f"not an http(s) URL: {url!r}", EXIT_USAGE)
    return url


def region_from_url(url: str) -> str | None:
    match = _EXECUTE_API_HOST.search(urlsplit(url).hostname or "")
    return match.group(1) if match else None


def stage_base(args: argparse.Namespace, environ: Mapping[str, str]) -> str:
    """The stage URL alone (no credentials): what a client's own calls need."""
    if args.endpoint and args.stack_name:
        raise CliError("usage", "give --endpoint or --stack-name, not both", EXIT_USAGE)
    if args.stack_name:
        return stack_url(args, environ)
    return stage_url(args.endpoint or default_endpoint(environ, args.state_dir))


def resolve_target(args: argparse.Namespace, environ: Mapping[str, str]) -> Target:
    url = stage_base(args, environ)
    source = args.credentials or ("aws" if args.profile or args.stack_name or not is_loopback(url) else "local")
    if source == "local":
        return _local_target(args, url, environ)
    return _aws_target(args, url, environ)


def _local_target(args: argparse.Namespace, url: str, environ: Mapping[str, str]) -> Target:
    from tokengate.local.state import CREDENTIALS_FILE, read_local_credentials

    state_dir = location.state_dir(args.state_dir, environ)
    found = read_local_credentials(state_dir, environ)
    if found is None:
        raise CliError(
            "no_credentials",
            f"no local admin credentials in {state_dir / CREDENTIALS_FILE}: start the local stack "
            f"(`tokengate local`) here or in a parent folder, or give its state folder with --state-dir",
            EXIT_UNREACHABLE,
        )
    key, secret, region = found
    return Target(url, key, secret, None, args.region or region or location.DEFAULT_REGION)


def session(args: argparse.Namespace, environ: Mapping[str, str]) -> Any:
    """A boto3 session as the AWS CLI would make it from these flags and this environment."""
    import boto3
    from botocore.exceptions import BotoCoreError

    try:
        return boto3.Session(profile_name=args.profile, region_name=args.region or environ.get(REGION_ENV) or None)
    except BotoCoreError as error:  # ProfileNotFound, a broken config file
        raise CliError("no_credentials", str(error), EXIT_UNREACHABLE) from None


def _aws_target(args: argparse.Namespace, url: str, environ: Mapping[str, str]) -> Target:
    aws = session(args, environ)
    credentials = aws.get_credentials()
    if credentials is None:
        raise CliError(
            "no_credentials",
            "no AWS credentials found (set AWS_PROFILE or --profile, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)",
            EXIT_UNREACHABLE,
        )
    frozen = credentials.get_frozen_credentials()
    # The API's own region first: a signature scoped to another region is refused. A loopback stage
    # is the local stack, whose region is its own, not the profile's.
    region = args.region or region_from_url(url) or (location.DEFAULT_REGION if is_loopback(url) else aws.region_name)
    if not region:
        raise CliError("no_region", "cannot tell the API's region: pass --region or set AWS_REGION", EXIT_USAGE)
    return Target(url, frozen.access_key, frozen.secret_key, frozen.token, region, credentials)


@dataclass(frozen=True)
class StackOutputs:
    outputs: dict[str, str]
    account: str


def stack_outputs(args: argparse.Namespace, environ: Mapping[str, str]) -> StackOutputs:
    """The deployed stack's outputs (and its account), read with the caller's AWS credentials."""
    from botocore.exceptions import BotoCoreError, ClientError

    aws = session(args, environ)
    try:
        stacks = aws.client("cloudformation").describe_stacks(StackName=args.stack_name)["Stacks"]
    except ClientError as error:
        message = error.response.get("Error", {}).get("Message", str(error))
        raise CliError("stack_not_found", message, EXIT_UNREACHABLE) from None
    except BotoCoreError as error:
        raise CliError("aws_unavailable", str(error), EXIT_UNREACHABLE) from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    return StackOutputs(outputs, stacks[0]["StackId"].split(":")[4])


def stack_url(args: argparse.Namespace, environ: Mapping[str, str]) -> str:
    from tokengate import use_infra_path

    use_infra_path()
    from infra.outputs import API_URL

    url = stack_outputs(args, environ).outputs.get(API_URL)
    if not url:
        raise CliError("stack_not_found", f"stack {args.stack_name} has no {API_URL} output", EXIT_UNREACHABLE)
    return stage_url(url)

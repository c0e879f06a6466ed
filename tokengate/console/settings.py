"""What the console is started with: the target and its credentials (the CLI's rules, exactly), the
deployment's token format, where its lifecycle events are, and what the page is told of all this.

Everything is resolved before the console listens, so a missing credential or an unknown stack is
one line and exit status, as for every other command.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import Any, get_args

from botocore.credentials import ReadOnlyCredentials

from tokengate.cli.errors import EXIT_USAGE, CliError
from tokengate.cli.target import Target, is_loopback, resolve_target, session, stack_outputs
from tokengate.console.app import Console
from tokengate.console.events import MAX_EVENTS, EventFile, EventSource, LogGroup
from tokengate.console.forward import Upstream
from tokengate.local import location

#: Clients per page of the console's list (each is read once to show its scopes and policy).
PAGE_SIZE = 25


def credentials_of(target: Target) -> Callable[[], ReadOnlyCredentials]:
    """The credentials to sign each call with: the chain's current ones, or the local admin's."""
    if target.refreshable is not None:
        current: Callable[[], ReadOnlyCredentials] = target.refreshable.get_frozen_credentials
        return current
    fixed = ReadOnlyCredentials(target.access_key, target.secret_key, target.token)
    return lambda: fixed


def events_source(
    args: argparse.Namespace, target: Target, outputs: Mapping[str, str], environ: Mapping[str, str]
) -> EventSource | None:
    """The local stack's events file for a loopback target; else the log group the stack's
    ``LifecycleLogGroup`` output (or ``--events-log-group``) names; else none."""
    from tokengate import use_infra_path
    from tokengate.local.event_log import EVENTS_FILE

    use_infra_path()
    from infra.outputs import LIFECYCLE_LOG_GROUP

    if is_loopback(target.base_url) and not args.events_log_group:
        return EventFile(location.state_dir(args.state_dir, environ) / EVENTS_FILE)
    name = args.events_log_group or outputs.get(LIFECYCLE_LOG_GROUP)
    if not name:
        return None
    aws = session(args, environ)
    region = target.region
    return LogGroup(name, lambda: aws.client("logs", region_name=region))


def page_settings(target: Target, events: EventSource | None, token_format: Any) -> dict[str, Any]:
    """What the page needs to know, each fact taken from where it is defined."""
    from tokengate_core.admin.api import Status
    from tokengate_core.deployment.config import SweepSettings
    from tokengate_core.errors import IP_NOT_ALLOWED, QUOTA_EXHAUSTED, RATE_LIMITED
    from tokengate_core.records.model import RotationPolicy
    from tokengate_core.records.rules import (
        CLIENT_NAME_PATTERN,
        MAX_CIDRS,
        MAX_GRACE_SECONDS,
        MAX_SCOPES,
        ON_LIMIT,
        QUOTA_PERIODS,
        SCOPE_PATTERN,
        TENANT_PATTERN,
    )
    from tokengate_core.tokens.format import KEY_ID_PATTERN

    return {
        "target": target.base_url,
        "local": is_loopback(target.base_url),
        "signed_as": "your AWS credentials" if target.refreshable is not None else "the local stack's admin",
        "token_prefix": token_format.prefix,
        "scanner_pattern": token_format.scanner_pattern(),
        "patterns": {
            "tenant": TENANT_PATTERN,
            "client_name": CLIENT_NAME_PATTERN,
            "client_id": f"^{KEY_ID_PATTERN}$",
            "scope": SCOPE_PATTERN,
        },
        "statuses": list(get_args(Status)),
        "on_limit": list(ON_LIMIT),
        "quota_periods": list(QUOTA_PERIODS),
        "usage_reasons": [RATE_LIMITED, QUOTA_EXHAUSTED, IP_NOT_ALLOWED],
        "limited_reasons": [RATE_LIMITED, QUOTA_EXHAUSTED],
        "max_scopes": MAX_SCOPES,
        "max_cidrs": MAX_CIDRS,
        "max_grace_seconds": MAX_GRACE_SECONDS,
        "default_grace_seconds": RotationPolicy.model_fields["grace_seconds"].default,
        "expiry_warning_days": SweepSettings.model_fields["expiry_warning_days"].default,
        "events": None if events is None else events.description,
        "max_events": MAX_EVENTS,
        "page_size": PAGE_SIZE,
    }


def resolve(args: argparse.Namespace, environ: Mapping[str, str]) -> Console:
    from tokengate.cli.commands.leaks import deployment_format

    if args.events_log_group and not args.events_log_group.strip():
        raise CliError("usage", "--events-log-group needs a log group name", EXIT_USAGE)
    target = resolve_target(args, environ)
    outputs = stack_outputs(args, environ).outputs if args.stack_name else {}
    token_format = deployment_format(args, outputs)
    events = events_source(args, target, outputs, environ)
    local = is_loopback(target.base_url)
    upstream = Upstream(target.base_url, target.region, credentials_of(target), args.timeout, one_at_a_time=local)
    return Console(upstream, events, page_settings(target, events, token_format))

"""``tokengate tenant-policy``: the IAM policy that makes a principal admin of one tenant
(the library is :mod:`infra.tenant_policy`; nothing here loads aws-cdk-lib)."""

from __future__ import annotations

import argparse
import json
import os
from urllib.parse import urlsplit

from tokengate import use_infra_path
from tokengate.cli.errors import EXIT_USAGE, CliError
from tokengate.cli.options import Parents, Subcommands, add_output, command
from tokengate.cli.target import default_endpoint, is_loopback, stack_outputs, stage_url
from tokengate.local import location


def cmd_tenant_policy(args: argparse.Namespace) -> int:
    use_infra_path()
    from infra.outputs import API_URL
    from infra.tenant_policy import ApiLocation, tenant_admin_policy

    try:
        if args.stack_name:
            stack = stack_outputs(args, os.environ)
            where = ApiLocation.from_url(stack.outputs.get(API_URL, ""))
            account = args.account or stack.account
        else:
            url = stage_url(args.endpoint or default_endpoint(os.environ, args.state_dir))
            if is_loopback(url):
                stage = urlsplit(url).path.strip("/")
                where = ApiLocation(location.LOCAL_API_ID, args.region or location.DEFAULT_REGION, "aws", stage)
                account = args.account or location.LOCAL_ACCOUNT_ID
            else:
                where = ApiLocation.from_url(url)
                if not args.account:
                    raise CliError("usage", "--endpoint needs --account (or use --stack-name)", EXIT_USAGE)
                account = args.account
        policy = tenant_admin_policy(where, account, args.tenant, stages=args.stage)
    except ValueError as error:
        raise CliError("usage", str(error), EXIT_USAGE) from None
    print(json.dumps(policy, indent=2))
    return 0


def register(commands: Subcommands, p: Parents) -> None:
    policy = command(
        commands,
        "tenant-policy",
        summary="print the IAM policy that makes a principal admin of one tenant (and nothing else)",
        description="Print the IAM policy that allows execute-api:Invoke on one tenant's admin routes, one "
        "resource per method and route, in the stage of the API's URL or each --stage. For a deployed stack "
        "(--stack-name, or --endpoint with --account), attach it to a role, user or group; for the local stack "
        "(the default endpoint), its Resource list is a principal's allow list in principals.json.",
        parents=[p.connection, p.tenant],
        examples=[
            "tokengate tenant-policy --tenant acme --stack-name TokenGate > acme-admin.json",
            "tokengate tenant-policy -t acme --endpoint https://abc123.execute-api.eu-west-1.amazonaws.com/dev "
            "--account 123456789012 --stage dev --stage prod",
            "tokengate tenant-policy -t acme   # the local stack's ARNs, for principals.json",
        ],
    )
    policy.add_argument("--account", metavar="ID", help="the API's AWS account (with --endpoint for a deployed API)")
    policy.add_argument(
        "--stage",
        action="append",
        default=[],
        metavar="NAME",
        help="allow this stage instead of the URL's (repeatable; each one named, never '*')",
    )
    add_output(policy, ("json",), "the policy document")
    policy.set_defaults(func=cmd_tenant_policy)

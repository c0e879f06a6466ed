"""Print the IAM policy that makes a principal admin of one tenant only.

    python -m infra.tenant_policy --tenant acme --stack-name TokenGate          # reads the stack's ApiUrl
    python -m infra.tenant_policy --tenant acme --api-url https://...amazonaws.com/dev --account 123456789012

Attach the printed document to a role, user or group (e.g. ``aws iam put-role-policy``). It allows
``execute-api:Invoke`` on the tenant's admin routes and nothing else: one resource per method and
route, ``.../<stage>/<METHOD>/admin/tenants/<tenant>/clients...``, for ApiUrl's stage (or each
``--stage``). In a CDK app, ``TokenGateStack.grant_tenant_admin(principal, tenant)`` does the same.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tokengate_core.routes import tenant_admin_resources

_API_URL = re.compile(
    r"^https://(?P<api>[a-z0-9]+)\.execute-api\.(?P<region>[a-z0-9-]+)\.(?P<suffix>amazonaws\.com(?:\.cn)?)/(?P<stage>[^/]+)/?$"
)


@dataclass(frozen=True)
class ApiLocation:
    api_id: str
    region: str
    partition: str
    stage: str

    @classmethod
    def from_url(cls, url: str) -> ApiLocation:
        match = _API_URL.match(url)
        if match is None:
            raise ValueError(f"not an execute-api stage URL: {url}")
        partition = "aws-cn" if match["suffix"].endswith(".cn") else "aws"
        return cls(match["api"], match["region"], partition, match["stage"])

    def arn_prefix(self, account: str) -> str:
        return f"arn:{self.partition}:execute-api:{self.region}:{account}:{self.api_id}"


def tenant_admin_policy(
    location: ApiLocation, account: str, tenant: str, *, stages: Sequence[str] = ()
) -> dict[str, Any]:
    """The policy document: Invoke on one tenant's admin routes in ``stages`` (default: the URL's)."""
    if not re.fullmatch(r"\d{12}", account):
        raise ValueError(f"not an AWS account id: {account!r}")
    resources: list[str] = []
    for stage in stages or (location.stage,):
        resources += tenant_admin_resources(location.arn_prefix(account), tenant, stage)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "TokengateTenantAdmin",
                "Effect": "Allow",
                "Action": "execute-api:Invoke",
                "Resource": list(dict.fromkeys(resources)),
            }
        ],
    }


def _from_stack(stack_name: str) -> tuple[str, str]:
    """(ApiUrl output, account id) of a deployed stack, with the caller's AWS credentials."""
    import boto3

    stacks = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    account = stacks[0]["StackId"].split(":")[4]
    return outputs["ApiUrl"], account


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.tenant_policy", description=__doc__.splitlines()[0])
    parser.add_argument("--tenant", required=True)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--stack-name", help="read ApiUrl and the account from this deployed stack")
    source.add_argument("--api-url", help="the stack's ApiUrl output (needs --account)")
    parser.add_argument("--account", help="the account the API lives in (with --api-url)")
    parser.add_argument(
        "--stage", action="append", default=[], help="allow this stage instead of ApiUrl's (repeat for more)"
    )
    parser.add_argument("--any-stage", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.any_stage:
        parser.error(
            "--any-stage is not offered: a wildcard stage would let IAM match another tenant's path; "
            "name each stage with --stage"
        )
    if args.stack_name:
        url, account = _from_stack(args.stack_name)
    else:
        if not args.account:
            parser.error("--api-url needs --account")
        url, account = args.api_url, args.account
    try:
        policy = tenant_admin_policy(ApiLocation.from_url(url), account, args.tenant, stages=args.stage)
    except ValueError as error:
        parser.error(str(error))
    json.dump(policy, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

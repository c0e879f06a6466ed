"""The IAM policy that makes a principal admin of one tenant only (``tokengate tenant-policy``
prints it; no aws-cdk-lib here, so the CLI can use it without the CDK installed).

It allows ``execute-api:Invoke`` on the tenant's admin routes and nothing else: one resource per
method and route, ``.../<stage>/<METHOD>/admin/tenants/<tenant>/clients...``, for each named stage
(never a wildcard stage: IAM's ``*`` would let it match another tenant's path). In a CDK app,
``TokenGateStack.grant_tenant_admin(principal, tenant)`` does the same.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tokengate_core.deployment.routes import tenant_admin_resources

_API_URL = re.compile(
    r"^https://(?P<api>[a-z0-9]+)\.execute-api\.(?P<region>[a-z0-9-]+)\.(?P<suffix>amazonaws\.com(?:\.cn)?)/(?P<stage>[^/]+)/?$"
)
_ACCOUNT = re.compile(r"\d{12}")


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
    if not _ACCOUNT.fullmatch(account):
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

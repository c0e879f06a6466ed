"""cdk-nag (AwsSolutions) wiring and the one way this app acknowledges a finding.

Rules of the house: an acknowledgement names one rule on one resource, and for IAM5 one exact
finding (the wildcard resource or action it is about), always with the reason it is acceptable.
Never on a stack or the app, never a whole rule where a finding can be named. The reasons live
here as constants so they can be reviewed side by side.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, Stack, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

#: The token secrets are created at run time, one per client, named <prefix><key id>; their ARNs
#: end in a random suffix. The only way to name them in a policy is the prefix pattern.
REASON_SECRET_PREFIX = (
    "Token secrets are created at run time (one per client) under the configured name prefix; "
    "the prefix pattern is the narrowest resource that covers them and nothing else."
)

#: secretsmanager:ListSecrets supports no resource-level permissions (resource must be "*");
#: the admin function and the sweep filter by the name prefix (and tenant tag) in the request itself.
REASON_LIST_SECRETS = (
    "secretsmanager:ListSecrets supports no resource-level permissions, so its resource must be '*'; "
    "every listing is filtered by the secret-name prefix (and, for a tenant, its tag) in the request."
)

#: The keyring secret holds the keys that sign token tags. Rotating it the Secrets Manager way
#: would replace the keys, and every token they signed would read as forged.
REASON_KEYRING_ROTATION = (
    "The signing keyring is rotated by POST /admin/keys/rotate, which adds a key and keeps the old ones, "
    "because tokens signed with an old key must keep verifying until their clients rotate."
)

#: GitHub's secret scanning delivers alerts unauthenticated at the gateway: it signs each body with
#: ECDSA instead, which the leak function checks before anything else.
REASON_SIGNED_WEBHOOK = (
    "GitHub's secret scanning cannot sign with SigV4 or hold a token of ours; it signs each alert with "
    "ECDSA (P-256), which the leak function verifies against GitHub's published keys before it reads "
    "anything; the route has its own small throttle."
)

#: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions; a
#: traced function's role gets exactly these two, in a policy of their own.
REASON_XRAY = (
    "xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions, so "
    "their resource must be '*'; this policy holds those two write actions and nothing else."
)

MIN_REASON_LENGTH = 40


def add_checks(app: App) -> None:
    """Run the AwsSolutions pack at synth; an unacknowledged finding fails the synth.

    cdk-nag v3 is a CDK policy-validation plugin: CDK runs it after synthesis and raises (the app
    exits non-zero) when a report has an unacknowledged violation. app.py double-checks the written
    report, so even a warning-level finding fails.
    """
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))


def acknowledge(scope: IConstruct, rule: str, reason: str, *, finding: str | None = None) -> None:
    """Acknowledge ``rule`` (or one ``finding`` of it, e.g. an IAM5 resource) on one resource."""
    if isinstance(scope, Stack) or App.is_app(scope):
        raise ValueError("acknowledge a finding on the resource it is about, never on a stack or the app")
    if rule.startswith("AwsSolutions-IAM5") and finding is None:
        raise ValueError("an IAM5 acknowledgement must name the exact wildcard it accepts")
    if len(reason) < MIN_REASON_LENGTH:
        raise ValueError(f"acknowledgement of {rule} needs a specific reason")
    rule_id = f"{rule}[{finding}]" if finding else rule
    Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))

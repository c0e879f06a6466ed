"""The template variants the infra tests synthesize (each once per session)."""

from __future__ import annotations

from typing import Any

#: The second variant: every non-default knob that changes the template's shape.
KMS_KEY_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ALARM_TOPIC_ARN = "arn:aws:sns:us-east-1:111122223333:tokengate-ops"
VARIANT_CONTEXT: dict[str, Any] = {
    "usageControl": "false",  # strings, as `-c key=value` delivers them
    "apiCacheTtlSeconds": "60",  # allowed only without usage control
    "kmsKeyArn": KMS_KEY_ARN,
    "stage": "prod",
    "secretPrefix": "acme/tokens/",
    "logRetentionDays": "90",
    "reservedConcurrency": '{"authorizer": 20}',
    "metricTenantDimension": "true",
    "alarmTopicArn": ALARM_TOPIC_ARN,
    "tokenPrefix": "acme_",
    "staleAfterDays": "90",
    "staleAction": "disable",
}

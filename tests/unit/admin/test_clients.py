"""The client use cases' undo of a half-made client: a failed step leaves no secret and no claimed
name. Secrets Manager and DynamoDB are moto's in-memory backends."""

from __future__ import annotations

import boto3
import pytest

from tests.unit.aws_in_memory import ACTOR, Failing, client_error, context
from tokengate_core.admin import clients, keys
from tokengate_core.admin.api import IssueClientRequest
from tokengate_core.deployment.config import AdminSettings
from tokengate_core.errors import (
    BadRequestError,
    UnavailableError,
)
from tokengate_core.tokens import keyring


def test_a_failed_step_of_an_issue_undoes_the_secret_and_the_name(aws: None) -> None:
    real = boto3.client("secretsmanager", region_name="us-east-1")
    reader = "arn:aws:iam::123456789012:role/reader"
    broken = context(Failing(real, "put_resource_policy", client_error("MalformedPolicyDocumentException")))
    with pytest.raises(BadRequestError):
        clients.issue(broken, "acme", IssueClientRequest(client_name="half", reader_arn=reader), ACTOR)
    names = [s["Name"] for s in real.list_secrets(IncludePlannedDeletion=True)["SecretList"]]
    assert names == [keyring.secret_name(AdminSettings().secret_prefix)]  # the client's secret is gone
    # ... and its name is free again: the same issue succeeds once the step works.
    issued = clients.issue(context(real), "acme", IssueClientRequest(client_name="half", reader_arn=reader), ACTOR)
    assert issued.client.client_name == "half"


def test_a_failed_create_releases_the_claimed_name(aws: None) -> None:
    real = boto3.client("secretsmanager", region_name="us-east-1")
    keys.keyring_view(context(real))  # the keyring exists, so create_secret fails only for the client
    broken = context(Failing(real, "create_secret", client_error("ThrottlingException")))
    with pytest.raises(UnavailableError):
        clients.issue(broken, "acme", IssueClientRequest(client_name="again"), ACTOR)
    assert (
        clients.issue(context(real), "acme", IssueClientRequest(client_name="again"), ACTOR).client.client_name
        == "again"
    )

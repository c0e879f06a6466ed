"""A deployment's own token prefix: minted by the admin and rotation functions, the only one its
authorizer looks up, refused at cold start when invalid."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.support import FakeClock
from tokengate.emulator import SecretsManagerEmulator
from tokengate_core.admin import clients
from tokengate_core.admin.api import IssueClientRequest
from tokengate_core.admin.context import AdminContext
from tokengate_core.authorize.decision import Reason, TokenAuthorizer
from tokengate_core.deployment.config import AdminSettings, AuthorizerSettings, ConfigError, RotationSettings
from tokengate_core.lifecycle.rotation import Rotator
from tokengate_core.runtime.aws import make_registry, make_store
from tokengate_core.tokens import format as tokens

pytestmark = pytest.mark.usefixtures("emulator")
PREFIX = "acme_"


def context(prefix: str) -> AdminContext:
    settings = AdminSettings(token_prefix=prefix)
    return AdminContext(store=make_store(settings), settings=settings, registry=make_registry(settings))


def authorizer(prefix: str) -> TokenAuthorizer:
    settings = AuthorizerSettings(token_prefix=prefix)
    return TokenAuthorizer(settings, store_factory=lambda: make_store(settings), clock=FakeClock(time.time()))


def test_the_deployment_prefix_is_minted_and_accepted() -> None:
    issued = clients.issue(context(PREFIX), "acme", IssueClientRequest(client_name="svc"), "arn:aws:iam::1:user/a")
    assert issued.token.startswith(f"{PREFIX}{issued.client.client_id}_")
    assert authorizer(PREFIX).decide(issued.token, "GET", "ANY /invoke").reason is Reason.ALLOWED
    rotated = clients.rotate(context(PREFIX), "acme", issued.client.client_id, "arn:aws:iam::1:user/a")
    assert rotated.token.startswith(PREFIX)


def test_a_token_of_another_prefix_is_refused_offline(emulator: SecretsManagerEmulator) -> None:
    ours = clients.issue(context(PREFIX), "acme", IssueClientRequest(client_name="svc"), "arn:aws:iam::1:user/a").token
    theirs = clients.issue(
        context("tg_"), "acme", IssueClientRequest(client_name="other"), "arn:aws:iam::1:user/a"
    ).token
    authz = authorizer(PREFIX)
    assert authz.decide(ours, "GET", "ANY /invoke").reason is Reason.ALLOWED  # keyring and client loaded
    emulator.reset_counts()
    for presented in (
        theirs,
        "zz_" + ours[len(PREFIX) :],
        tokens.token_format("acmf_").generate("0" * 20, lambda s: "0" * tokens.TAG_LENGTH),
    ):
        assert authz.decide(presented, "GET", "ANY /invoke").reason is Reason.FOREIGN_PREFIX
    assert emulator.calls() == 0
    # The default prefix's authorizer refuses this deployment's tokens the same way.
    assert authorizer("tg_").decide(ours, "GET", "ANY /invoke").reason is Reason.FOREIGN_PREFIX


def test_a_scheduled_rotation_mints_the_deployment_prefix() -> None:
    import boto3

    issued = clients.issue(
        context(PREFIX),
        "acme",
        IssueClientRequest(client_name="svc", rotation_period_days=30, token_fetch=True, grace_seconds=60),
        "arn:aws:iam::1:user/a",
    )
    sm = boto3.client("secretsmanager")
    arn = sm.describe_secret(SecretId=f"tokengate/clients/{issued.client.client_id}")["ARN"]
    rotator = Rotator(make_store(RotationSettings(token_prefix=PREFIX)), token_prefix=PREFIX)
    version = str(uuid.uuid4())
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        rotator.run(step, arn, version)
    record = make_store(RotationSettings()).get(issued.client.client_id)
    assert record.own_token.startswith(PREFIX)
    assert record.own_token != issued.token


@pytest.mark.parametrize("value", ["TG_", "tg", "t_", "toolongprefix_", "tg-", "tg_\n"])
def test_an_invalid_prefix_fails_every_function_cold_start(value: str) -> None:
    for settings in (AuthorizerSettings, AdminSettings, RotationSettings):
        with pytest.raises(ConfigError, match="TOKENGATE_TOKEN_PREFIX"):
            settings.from_env({"TOKENGATE_TOKEN_PREFIX": value})

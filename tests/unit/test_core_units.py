"""The domain's pieces one at a time, in this process, without HTTP: the authorizer's cache, the
page-token codec, the translation of AWS errors, the rotation steps, and the client use cases' undo
of a half-made client. Secrets Manager and DynamoDB here are moto's in-memory backends."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from moto import mock_aws

from tokengate_core.admin import clients, keys
from tokengate_core.admin.api import IssueClientRequest
from tokengate_core.admin.context import AdminContext
from tokengate_core.admin.page_tokens import decode_page_token, encode_page_token
from tokengate_core.authorize.cache import ClientCache, Entry
from tokengate_core.deployment.config import AdminSettings
from tokengate_core.errors import (
    BadRequestError,
    ConflictError,
    NotFoundError,
    RevokedError,
    RotationError,
    TokengateError,
    UnavailableError,
)
from tokengate_core.lifecycle.rotation import Rotator, parse_event
from tokengate_core.records.names import NameRegistry, create_table
from tokengate_core.records.store import SecretsStore, translate
from tokengate_core.tokens import keyring

ACTOR = "arn:aws:iam::123456789012:user/tester"

# -- the cache ----------------------------------------------------------------------------------------


def test_unknown_ids_expire_at_the_negative_ttl_revocations_at_the_positive_one() -> None:
    cache = ClientCache(ttl=30, negative_ttl=10, max_stale=300, max_entries=10)
    cache.put("unknown", Entry("unknown", None, 0.0))
    cache.put("revoked", Entry("revoked", None, 0.0))
    assert cache.fresh("unknown", 9.9) is not None and cache.fresh("unknown", 10.0) is None
    assert cache.fresh("revoked", 29.9) is not None and cache.fresh("revoked", 30.0) is None
    assert cache.fresh("never-seen", 0.0) is None


def test_a_stale_entry_answers_up_to_max_stale() -> None:
    cache = ClientCache(ttl=30, negative_ttl=10, max_stale=300, max_entries=10)
    cache.put("k", Entry("found", None, 0.0))
    assert cache.fresh("k", 31) is None
    assert cache.stale("k", 299.9) is not None and cache.stale("k", 300.0) is None


def test_the_oldest_entry_is_evicted_and_a_refresh_makes_an_entry_new() -> None:
    cache = ClientCache(ttl=30, negative_ttl=10, max_stale=300, max_entries=2)
    cache.put("a", Entry("unknown", None, 0.0))
    cache.put("b", Entry("unknown", None, 0.0))
    cache.put("a", Entry("unknown", None, 1.0))  # refreshed: now the newest
    cache.put("c", Entry("unknown", None, 2.0))  # evicts b, the oldest
    assert len(cache) == 2
    assert cache.stale("b", 2.0) is None and cache.stale("a", 2.0) is not None
    cache.clear()
    assert len(cache) == 0


# -- page tokens ----------------------------------------------------------------------------------------

KEY = b"k" * 32


def test_a_page_token_round_trips_for_its_tenant_only() -> None:
    token = encode_page_token("acme", "secrets-manager-next-token", KEY)
    assert decode_page_token("acme", token, KEY) == "secrets-manager-next-token"
    for tenant, presented, key in (
        ("globex", token, KEY),  # another tenant's page
        ("acme", token, b"x" * 32),  # another deployment's key
        ("acme", token[:-1] + ("A" if token[-1] != "A" else "B"), KEY),  # a changed MAC
        ("acme", "not-a-page-token", KEY),
        ("acme", encode_page_token("acme", "", KEY), KEY),  # an empty store token is no token
    ):
        with pytest.raises(BadRequestError, match="invalid next_token"):
            decode_page_token(tenant, presented, key)


# -- AWS errors -------------------------------------------------------------------------------------


def client_error(code: str, message: str = "", status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},  # type: ignore[typeddict-item]
        "Op",
    )


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (client_error("ResourceNotFoundException"), NotFoundError),
        (client_error("InvalidRequestException", "secret is marked deleted"), RevokedError),
        (client_error("InvalidRequestException", "scheduled for deletion"), RevokedError),
        (client_error("InvalidNextTokenException"), BadRequestError),
        (client_error("InvalidParameterException", "bad"), BadRequestError),
        (client_error("MalformedPolicyDocumentException"), BadRequestError),
        (client_error("ResourceExistsException"), ConflictError),
        (client_error("ThrottlingException"), UnavailableError),
        (client_error("SomethingNew", status=503), UnavailableError),
        (client_error("AccessDeniedException", status=403), UnavailableError),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:9"), UnavailableError),
    ],
)
def test_aws_errors_become_domain_errors(error: Exception, expected: type[TokengateError]) -> None:
    assert type(translate(error)) is expected


def test_domain_errors_pass_and_anything_else_says_only_its_type() -> None:
    revoked = RevokedError("client is revoked")
    assert translate(revoked) is revoked
    other = translate(RuntimeError("a message that may hold a secret"))
    assert type(other) is TokengateError and "secret" not in str(other) and "RuntimeError" in str(other)


# -- with moto in memory ------------------------------------------------------------------------------


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto's backends in this process: the emulator's endpoints must not be used."""
    for name in ("AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL_DYNAMODB"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        yield


class Failing:
    """A Secrets Manager client whose ``operation`` fails as Secrets Manager would."""

    def __init__(self, client: Any, operation: str, error: Exception) -> None:
        self._client, self._operation, self._error = client, operation, error

    def __getattr__(self, name: str) -> Any:
        if name == self._operation:

            def fail(**_: Any) -> Any:
                raise self._error

            fail.__name__ = name
            return fail
        return getattr(self._client, name)


def context(secretsmanager: Any) -> AdminContext:
    settings = AdminSettings()
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    create_table(dynamodb, settings.table_name)
    store = SecretsStore(secretsmanager, settings.secret_prefix)
    return AdminContext(store=store, settings=settings, registry=NameRegistry(dynamodb, settings.table_name))


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


def test_a_control_plane_timeout_says_the_outcome_is_unknown(aws: None) -> None:
    real = boto3.client("secretsmanager", region_name="us-east-1")
    timing_out: Any = Failing(real, "delete_secret", ReadTimeoutError(endpoint_url="x"))
    store = SecretsStore(real, "p/", control_client=timing_out)
    with pytest.raises(UnavailableError, match=r"did not answer DeleteSecret in time.*may still take effect"):
        store.schedule_deletion("k" * 20, 7)


def test_the_four_rotation_steps_move_the_current_token_to_previous(aws: None) -> None:
    real = boto3.client("secretsmanager", region_name="us-east-1")
    ctx = context(real)
    issued = clients.issue(ctx, "acme", IssueClientRequest(client_name="turning", grace_seconds=60), ACTOR)
    key_id = issued.client.client_id
    arn = real.describe_secret(SecretId=ctx.store.secret_id(key_id))["ARN"]
    rotator = Rotator(ctx.store)
    token = str(uuid.uuid4())
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        parsed = parse_event({"Step": step, "SecretId": arn, "ClientRequestToken": token})
        rotator.run(*parsed)
    current, version = ctx.store.read(key_id)
    assert version == token  # finishSecret moved AWSCURRENT onto the new version
    previous = ctx.store.get(key_id, stage="AWSPREVIOUS")
    assert current.token is not None and previous.token is not None
    assert current.token.get_secret_value() != issued.token
    assert previous.token.get_secret_value() == issued.token  # the old token, kept for its grace window


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ("not an object", "not an object"),
        ({"Step": "dropSecret", "SecretId": "s", "ClientRequestToken": "t"}, "unknown rotation step"),
        ({"Step": "createSecret", "SecretId": "", "ClientRequestToken": "t"}, "required"),
        ({"Step": "createSecret", "SecretId": "s"}, "required"),
    ],
)
def test_a_malformed_rotation_event_is_refused(event: Any, reason: str) -> None:
    with pytest.raises(RotationError, match=reason):
        parse_event(event)


# -- the authorizer's decisions -------------------------------------------------------------------------


def test_the_authorizer_decides_every_case_from_the_record(aws: None) -> None:
    from tokengate_core.authorize.decision import Reason, TokenAuthorizer
    from tokengate_core.authorize.settings import AuthorizerSettings

    real = boto3.client("secretsmanager", region_name="us-east-1")
    ctx = context(real)

    def issue(name: str, **fields: Any) -> tuple[str, str]:
        issued = clients.issue(ctx, "acme", IssueClientRequest(client_name=name, **fields), ACTOR)
        return issued.client.client_id, issued.token

    _, scoped = issue("scoped", scopes=["GET /invoke"])
    disabled_id, disabled = issue("disabled")
    clients.update(ctx, "acme", disabled_id, {"enabled": False}, ACTOR)
    revoked_id, revoked = issue("revoked")
    clients.revoke(ctx, "acme", revoked_id, ACTOR)
    rotated_id, old = issue("rotated", grace_seconds=3600)
    new = clients.rotate(ctx, "acme", rotated_id, ACTOR).token

    now = [time.time()]  # issue dated the grace window on the real clock
    settings = AuthorizerSettings.from_env({})
    authz = TokenAuthorizer(settings, store_factory=lambda: ctx.store, clock=lambda: now[0])

    def reason(header: str | None, method: str = "GET") -> Reason:
        return authz.decide(header, method, "ANY /invoke", "/dev/invoke").reason

    assert reason(scoped) is Reason.ALLOWED
    assert reason(f"Bearer {scoped}") is Reason.ALLOWED
    assert reason(scoped, method="POST") is Reason.OUT_OF_SCOPE
    assert reason(None) is Reason.MISSING
    assert reason(scoped[:-1] + ("A" if scoped[-1] != "A" else "B")) is Reason.BAD_CHECKSUM
    assert reason("tg_garbage") is Reason.MALFORMED
    assert reason(disabled) is Reason.DISABLED
    assert reason(revoked) is Reason.REVOKED
    assert reason(new) is Reason.ALLOWED and reason(old) is Reason.ALLOWED  # the old one in its grace
    now[0] += 3600 + settings.cache_ttl_seconds + 1
    assert reason(new) is Reason.ALLOWED and reason(old) is Reason.WRONG_SECRET  # grace over

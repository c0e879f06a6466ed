"""The order in which a change reaches the secret, the digest index and the change feed, and what
a failing later step leaves: the index never allows more than the secret, a token is shown only
once the index accepts it, and a revoke or disable denies in the index first (moto's backends)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tests.unit.aws_in_memory import ACTOR, Failing, client_error, context
from tokengate_core.admin import clients
from tokengate_core.admin.api import IssueClientRequest
from tokengate_core.admin.context import AdminContext
from tokengate_core.deployment.config import AdminSettings
from tokengate_core.errors import ConflictError, UnavailableError
from tokengate_core.records import feed
from tokengate_core.records.index import ClientIndex
from tokengate_core.tokens import format as tokens
from tokengate_core.tokens import keyring

TABLE = AdminSettings().table_name


@pytest.fixture
def sm(aws: None) -> Iterator[Any]:
    yield boto3.client("secretsmanager", region_name="us-east-1")


def dynamodb() -> Any:
    return boto3.client("dynamodb", region_name="us-east-1")


def indexed(key_id: str) -> tuple[str, dict[str, Any]] | None:
    entry = ClientIndex(dynamodb(), TABLE).get(key_id)
    return None if entry is None else (entry.state, json.loads(entry.doc))


def kinds() -> list[tuple[str, str]]:
    return [(e.key_id, e.kind) for e in feed.read_entries(dynamodb(), TABLE, 0)]


class IndexRefusing:
    """DynamoDB that throttles every write of an index item and serves everything else."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def put_item(self, **request: Any) -> Any:
        if request["Item"]["pk"]["S"].startswith("index#"):
            raise client_error("ProvisionedThroughputExceededException")
        return self._client.put_item(**request)


def issue(ctx: AdminContext, name: str, **fields: Any) -> tuple[str, str]:
    issued = clients.issue(ctx, "acme", IssueClientRequest(client_name=name, **fields), ACTOR)
    return issued.client.client_id, issued.token


def test_an_issue_is_indexed_and_announced_before_its_token_is_shown(sm: Any) -> None:
    key_id, token = issue(context(sm), "bot")
    state, doc = indexed(key_id) or ("", {})
    assert state == "active" and doc["sha256"] == tokens.digest(token).hex() and "token" not in doc
    assert kinds() == [(key_id, "issue")]


def test_an_issue_the_index_refuses_removes_the_secret_and_shows_no_token(sm: Any) -> None:
    keyring.ensure(context(sm).store, 0.0)
    with pytest.raises(UnavailableError):
        issue(context(sm, IndexRefusing(dynamodb())), "bot")  # the 503: no token reaches the caller
    names = [s["Name"] for s in sm.list_secrets(IncludePlannedDeletion=True)["SecretList"]]
    assert names == [keyring.secret_name(AdminSettings().secret_prefix)]  # the secret went too
    assert kinds() == []
    assert issue(context(sm), "bot")[1]  # and its name is free again


def test_a_revoke_denies_in_the_index_first_and_stays_denied_when_the_secret_step_fails(sm: Any) -> None:
    ctx = context(sm)
    key_id, _ = issue(ctx, "bot")
    broken = context(Failing(sm, "delete_secret", client_error("InternalServiceError", status=500)))
    with pytest.raises(UnavailableError):
        clients.revoke(broken, "acme", key_id, ACTOR)
    assert (indexed(key_id) or ("",))[0] == "revoked"
    assert kinds()[-1] == (key_id, "revoke")
    assert not ctx.store.describe(key_id).revoked  # the secret step failed: repeat the revoke
    clients.revoke(ctx, "acme", key_id, ACTOR)
    assert ctx.store.describe(key_id).revoked


def test_a_revoke_that_cannot_reach_the_index_changes_nothing(sm: Any) -> None:
    ctx = context(sm)
    key_id, _ = issue(ctx, "bot")
    broken = context(sm, Failing(dynamodb(), "update_item", client_error("ThrottlingException")))
    with pytest.raises(UnavailableError):
        clients.revoke(broken, "acme", key_id, ACTOR)
    assert (indexed(key_id) or ("",))[0] == "active" and not ctx.store.describe(key_id).revoked


def test_a_disable_denies_in_the_index_even_if_the_secret_write_fails(sm: Any) -> None:
    ctx = context(sm)
    key_id, _ = issue(ctx, "bot")
    broken = context(Failing(sm, "put_secret_value", client_error("ThrottlingException")))
    with pytest.raises(UnavailableError):
        clients.update(broken, "acme", key_id, {"enabled": False}, ACTOR)
    assert (indexed(key_id) or ("", {}))[1]["enabled"] is False
    assert kinds()[-1] == (key_id, "disable")
    assert ctx.store.get(key_id).enabled  # the index denies more than the secret, never less


def test_an_update_the_index_refuses_is_undone_in_the_secret(sm: Any) -> None:
    ctx = context(sm)
    key_id, _ = issue(ctx, "bot", scopes=["GET /invoke"])
    with pytest.raises(UnavailableError):
        clients.update(context(sm, IndexRefusing(dynamodb())), "acme", key_id, {"scopes": ["*"]}, ACTOR)
    assert ctx.store.get(key_id).scopes == ["GET /invoke"]
    assert (indexed(key_id) or ("", {}))[1]["scopes"] == ["GET /invoke"]


def test_a_rotation_the_feed_cannot_announce_puts_the_old_token_back_and_shows_none(sm: Any) -> None:
    ctx = context(sm)
    key_id, old = issue(ctx, "bot", grace_seconds=0)
    broken = context(sm, Failing(dynamodb(), "update_item", client_error("ThrottlingException")))
    with pytest.raises(UnavailableError):
        clients.rotate(broken, "acme", key_id, ACTOR)
    assert ctx.store.get(key_id).own_token == old
    assert (indexed(key_id) or ("", {}))[1]["sha256"] == tokens.digest(old).hex()


def test_a_rotation_with_grace_zero_keeps_no_old_digest_in_the_index(sm: Any) -> None:
    ctx = context(sm)
    key_id, old = issue(ctx, "bot", grace_seconds=0)
    new = clients.rotate(ctx, "acme", key_id, ACTOR).token
    doc = (indexed(key_id) or ("", {}))[1]
    assert doc["sha256"] == tokens.digest(new).hex() and doc["previous"] is None
    assert tokens.digest(old).hex() not in json.dumps(doc)
    assert kinds()[-1] == (key_id, "rotate")


def test_a_restore_goes_to_the_secret_then_the_index_then_the_feed(sm: Any) -> None:
    ctx = context(sm)
    key_id, _ = issue(ctx, "bot")
    clients.revoke(ctx, "acme", key_id, ACTOR)
    with pytest.raises(UnavailableError):
        clients.restore(context(sm, IndexRefusing(dynamodb())), "acme", key_id, ACTOR)
    # The secret is back but the index still denies; repeating the restore completes it.
    assert not ctx.store.describe(key_id).revoked and (indexed(key_id) or ("",))[0] == "revoked"
    clients.restore(ctx, "acme", key_id, ACTOR)
    assert (indexed(key_id) or ("",))[0] == "active" and kinds()[-1] == (key_id, "restore")


class RotatedFirst:
    """Secrets Manager where another admin's rotation of the same client lands just before this
    one's PutSecretValue: both read the same version, so this one's write is refused."""

    def __init__(self, client: Any, rival: Any) -> None:
        self._client, self._rival = client, rival
        self.rival_token = ""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def put_secret_value(self, **request: Any) -> Any:
        if not self.rival_token:
            self.rival_token = self._rival()
        return self._client.put_secret_value(**request)


def test_of_two_racing_rotations_the_index_keeps_the_winners_token(sm: Any) -> None:
    ctx = context(sm)
    key_id, first = issue(ctx, "bot", grace_seconds=3600)
    racing = RotatedFirst(sm, lambda: clients.rotate(ctx, "acme", key_id, ACTOR).token)
    with pytest.raises(ConflictError):
        clients.rotate(context(racing), "acme", key_id, ACTOR)
    winner = racing.rival_token
    assert ctx.store.get(key_id).own_token == winner
    doc = (indexed(key_id) or ("", {}))[1]
    # The loser's undo puts back what the secret holds (the winner's rotation), not what the
    # loser read before it: the winner's token works, and the first one during its grace.
    assert doc["sha256"] == tokens.digest(winner).hex()
    assert doc["previous"]["sha256"] == tokens.digest(first).hex()
    assert kinds()[-1] == (key_id, "reconcile")

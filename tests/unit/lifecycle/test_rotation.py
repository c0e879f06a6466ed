"""The rotation function's four steps against moto's in-memory Secrets Manager, and the events it refuses."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.support import staged_version
from tests.unit.aws_in_memory import ACTOR, context
from tokengate_core.admin import clients
from tokengate_core.admin.api import IssueClientRequest
from tokengate_core.errors import (
    RotationError,
)
from tokengate_core.lifecycle.rotation import Rotator, parse_event


def test_the_four_rotation_steps_move_the_current_token_to_previous(aws: None) -> None:
    real = boto3.client("secretsmanager", region_name="us-east-1")
    ctx = context(real)
    issued = clients.issue(ctx, "acme", IssueClientRequest(client_name="turning", grace_seconds=60), ACTOR)
    key_id = issued.client.client_id
    arn = real.describe_secret(SecretId=ctx.store.secret_id(key_id))["ARN"]
    rotator = Rotator(ctx.store)
    token = staged_version(arn)
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


@pytest.mark.parametrize("grace", [0, 60])
def test_the_index_accepts_the_pending_token_at_set_and_makes_it_current_at_finish(aws: None, grace: int) -> None:
    import json

    from tokengate_core.records import feed
    from tokengate_core.tokens import format as tokens

    real = boto3.client("secretsmanager", region_name="us-east-1")
    ctx = context(real)
    issued = clients.issue(ctx, "acme", IssueClientRequest(client_name="turning", grace_seconds=grace), ACTOR)
    key_id, old = issued.client.client_id, tokens.digest(issued.token).hex()
    arn = real.describe_secret(SecretId=ctx.store.secret_id(key_id))["ARN"]
    rotator = Rotator(ctx.store, index=ctx.index)
    token = staged_version(arn)

    def doc() -> dict[str, Any]:
        entry = ctx.index.get(key_id)
        assert entry is not None and entry.state == "active"
        return dict(json.loads(entry.doc))

    rotator.run("createSecret", arn, token)
    assert "pending_sha256" not in doc()
    rotator.run("setSecret", arn, token)
    new = ctx.store.get(key_id, version_id=token, stage="AWSPENDING").current_sha256
    assert (doc()["sha256"], doc()["pending_sha256"]) == (old, new)  # accepted before it is current
    rotator.run("testSecret", arn, token)
    rotator.run("finishSecret", arn, token)
    finished = doc()
    assert finished["sha256"] == new and "pending_sha256" not in finished
    assert (finished["previous"] or {}).get("sha256") == (old if grace else None)  # grace 0: not kept
    entries = feed.read_entries(ctx.registry.client, ctx.registry.table, 0)
    assert [e.kind for e in entries] == ["issue", "rotation", "rotation"]

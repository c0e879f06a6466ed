"""The authorizer's decision for every kind of client, read from records the admin use cases wrote
(moto's in-memory Secrets Manager)."""

from __future__ import annotations

import time
from typing import Any

import boto3

from tests.unit.aws_in_memory import ACTOR, context
from tokengate_core.admin import clients
from tokengate_core.admin.api import IssueClientRequest


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

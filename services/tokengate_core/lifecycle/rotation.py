"""Secrets Manager's four-step rotation for a client token.

Secrets Manager calls the function once per step with ``SecretId`` (an ARN), ``ClientRequestToken``
(the new version's id) and ``Step``, and retries a failed step. Every step is idempotent, and no
step ever leaves the client without a valid token: AWSCURRENT moves only in finishSecret, to a
version whose record still accepts the old token for the grace period.

The digest index (records.index) follows the protocol as its "service that checks the
credential": setSecret puts the pending token's digest into the index (accepted, not yet current)
and announces it on the change feed; finishSecret makes it current in the index (the old one
previous, with its grace end; none with grace 0), then moves AWSCURRENT, then announces it. A
failed step is retried by Secrets Manager, and every step is idempotent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

from tokengate_core.errors import NotFoundError, RotationError
from tokengate_core.lifecycle.detail_types import DetailType
from tokengate_core.lifecycle.events import ACTOR_SCHEDULED_ROTATION, EventPublisher, NoEvents, announce, iso
from tokengate_core.records.index import ACTIVE, ClientIndex
from tokengate_core.records.model import ClientRecord, utcnow_from
from tokengate_core.records.store import SecretsStore
from tokengate_core.tokens import format as tokens
from tokengate_core.tokens import keyring

Step = Literal["createSecret", "setSecret", "testSecret", "finishSecret"]
ACTOR = ACTOR_SCHEDULED_ROTATION


class Rotator:
    def __init__(
        self,
        store: SecretsStore,
        clock: Callable[[], float] = time.time,
        *,
        token_prefix: str = tokens.DEFAULT_PREFIX,
        events: EventPublisher | None = None,
        index: ClientIndex | None = None,
    ) -> None:
        """Without ``index`` (a deployment's store alone, in tests of the secret's steps) the
        index steps are skipped."""
        self.store = store
        self.index = index
        self.clock = clock
        self.format = tokens.token_format(token_prefix)
        self.events = events or NoEvents()

    def run(self, step: Step, secret_id: str, token: str) -> str:
        """Run one step; return what it did (for the log). Raise to make Secrets Manager retry."""
        meta = self.store.describe_raw(secret_id)
        key_id = self.store.key_id_of(meta.get("Name", ""))
        if key_id is None or not tokens.is_key_id(key_id):
            raise RotationError("secret is not a tokengate client")
        versions: dict[str, list[str]] = meta.get("VersionIdsToStages") or {}
        # Every step, createSecret too, checks the version as AWS's rotation template does
        # (aws-samples/aws-secrets-manager-rotation-lambdas, SecretsManagerRotationTemplate): Secrets
        # Manager labels the new version AWSPENDING before it invokes the function, so a token it
        # never staged is refused. Putting an AWSPENDING value under such a token would leave the
        # label on a version that is not current, and AWS documents that RotateSecret then fails
        # as if a rotation were still in progress (RotateSecret, "AWSPENDING staging label").
        stages = versions.get(token)
        if stages is None:
            raise RotationError("version has no stage for rotation")
        if "AWSCURRENT" in stages:
            return "already current"
        if "AWSPENDING" not in stages:
            raise RotationError("version is not AWSPENDING (superseded or cancelled)")
        handler: dict[str, Callable[[str, str, dict[str, list[str]]], str]] = {
            "createSecret": self._create,
            "setSecret": self._set,
            "testSecret": self._test,
            "finishSecret": self._finish,
        }
        return handler[step](key_id, token, versions)

    def _create(self, key_id: str, token: str, versions: dict[str, list[str]]) -> str:
        current = self.store.get(key_id, stage="AWSCURRENT")
        try:
            self.store.get(key_id, version_id=token, stage="AWSPENDING")
            return "pending version exists"
        except NotFoundError:
            pass
        problem = current.delivery_problem()
        if problem is not None:
            # Rotating would strand the client at the end of the grace window: keep its token.
            raise RotationError(f"not rotating: {problem}")
        now = self.clock()
        new_token = self.format.generate(key_id, keyring.ensure(self.store, now).signer(now))
        new = current.rotated(new_token, utcnow_from(now), ACTOR)
        self.store.put(new, request_token=token, stages=["AWSPENDING"])
        return "pending version created"

    def _set(self, key_id: str, token: str, versions: dict[str, list[str]]) -> str:
        if self.index is None:
            return "nothing to set"
        checked = self._checked(key_id, token)
        if checked is None:
            return "configuration test: nothing to set"
        current, pending = checked
        self.index.write(current, ACTIVE, now=utcnow_from(self.clock()), pending_sha256=pending.current_sha256)
        self.index.append(key_id, "rotation")
        return "pending digest indexed"

    def _test(self, key_id: str, token: str, versions: dict[str, list[str]]) -> str:
        if self._checked(key_id, token) is None:
            return "configuration test: current record readable"
        return "pending version valid"

    def _checked(self, key_id: str, token: str) -> tuple[ClientRecord, ClientRecord] | None:
        """The current record and the pending one, checked against each other; None while the
        pending version holds no value yet (Secrets Manager's configuration test, with
        RotateImmediately=false)."""
        current = self.store.get(key_id, stage="AWSCURRENT")
        try:
            pending = self.store.get(key_id, version_id=token, stage="AWSPENDING")
        except NotFoundError:
            return None
        self._check_pending(current, pending)
        return current, pending

    def _finish(self, key_id: str, token: str, versions: dict[str, list[str]]) -> str:
        current_version = next((v for v, s in versions.items() if "AWSCURRENT" in s), None)
        current = self.store.get(key_id, stage="AWSCURRENT")
        pending = self.store.get(key_id, version_id=token, stage="AWSPENDING")
        self._check_pending(current, pending)
        if pending.previous is not None:
            # A pending version made long ago would cut the grace window short: refuse, so the
            # next rotation makes a fresh one. The current token stays valid meanwhile.
            remaining = pending.previous.valid_until.timestamp() - self.clock()
            if remaining < pending.rotation.grace_seconds / 2:
                raise RotationError("pending version is stale: its grace window has mostly elapsed")
        if self.index is not None:
            self.index.write(pending, ACTIVE, now=utcnow_from(self.clock()))
        self.store.move_stage(key_id, "AWSCURRENT", to_version=token, from_version=current_version)
        if self.index is not None:
            self.index.append(key_id, "rotation")
        # Only the step that made the rotation happen reports it: a retried finishSecret finds the
        # version current already and returns before this.
        announce(
            self.events,
            DetailType.ROTATED,
            tenant=pending.tenant,
            client_id=key_id,
            client_name=pending.client_name,
            actor=ACTOR,
            at=utcnow_from(self.clock()),
            extra={"previous_token_valid_until": iso(pending.previous.valid_until if pending.previous else None)},
        )
        return "AWSCURRENT moved"

    @staticmethod
    def _check_pending(current: ClientRecord, pending: ClientRecord) -> None:
        if pending.key_id != current.key_id or pending.tenant != current.tenant:
            raise RotationError("pending version names another client")
        if pending.current_sha256 == current.current_sha256:
            return  # Secrets Manager's configuration test copies the current value
        if pending.token is None:
            raise RotationError("pending version holds no token")
        parsed = tokens.parse(pending.token.get_secret_value())
        if parsed.key_id != current.key_id:
            raise RotationError("pending token has another key id")
        # The current token, ours or an imported one, stays valid through the grace window.
        kept = pending.previous is not None and pending.previous.sha256 == current.current_sha256
        if current.rotation.grace_seconds > 0 and not kept:
            raise RotationError("pending version would not keep the current token in grace")


def parse_event(event: Any) -> tuple[Step, str, str]:
    if not isinstance(event, dict):
        raise RotationError("event is not an object")
    step, secret_id, token = event.get("Step"), event.get("SecretId"), event.get("ClientRequestToken")
    if step not in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        raise RotationError("unknown rotation step")
    if not isinstance(secret_id, str) or not isinstance(token, str) or not secret_id or not token:
        raise RotationError("SecretId and ClientRequestToken are required")
    return step, secret_id, token

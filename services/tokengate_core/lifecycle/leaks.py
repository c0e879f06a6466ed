"""The response to a leaked token: from GitHub's secret scanning (the leak function) or from an
operator who found one elsewhere (``POST /admin/leaks``, the admin function).

Each reported token is first judged offline: one of ours is a token of this deployment's prefix
whose tag one of its keys made (or a legacy id's, or an imported token the keyring maps), and
anything else is a false positive at no read. A token of ours is then looked up: if its client
still accepts it (the current token, or the previous one in its grace window) and is not revoked,
the client is revoked (or disabled, per the deployment's setting) through the same use case as
the admin API, audited with where the token was found, and reported as ``Token Leaked``. The
previous token in grace leads to the same response: whoever holds it may fetch the current one.

Redelivery changes nothing: a revoked client is reported again as a true positive with nothing
done. Clients are handled a few at a time. Work left when the time is nearly up, or that failed
on the backend, makes the whole answer an error, so the sender delivers again and the rest is
done then (what was done is then a no-op).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

from tokengate_core.admin import clients
from tokengate_core.admin.context import AdminContext
from tokengate_core.admin.request_body import parse_json
from tokengate_core.errors import ConflictError, InvalidJsonError, NotFoundError, RevokedError, TokengateError
from tokengate_core.lifecycle.alerts import AlertMemory, match_digest
from tokengate_core.lifecycle.detail_types import DetailType
from tokengate_core.lifecycle.events import EventPublisher, LifecycleEvent, checked_event, mask_secrets
from tokengate_core.records.model import ClientRecord, utcnow_from
from tokengate_core.tokens import format as tokens
from tokengate_core.tokens import keyring

Label = Literal["true_positive", "false_positive"]
TRUE_POSITIVE: Label = "true_positive"
FALSE_POSITIVE: Label = "false_positive"
_LABELS: dict[str, Label] = {TRUE_POSITIVE: TRUE_POSITIVE, FALSE_POSITIVE: FALSE_POSITIVE}
Action = Literal["revoke", "disable"]
#: The most a GitHub alert body may be: matches are a few hundred bytes each.
MAX_BODY_BYTES = 1024 * 1024
#: Clients handled at once (Secrets Manager calls in flight).
CONCURRENCY = 10
#: No client is started with less time left than this: the answer must go out before the timeout.
DEADLINE_MARGIN_SECONDS = 5.0
#: The longest a reporter's description of where it found a token is kept (url, source, type).
MAX_URL_CHARS = 2048
MAX_FIELD_CHARS = 128


class BadReport(ValueError):
    """The body is not a list of matches; the message names the problem, never a value."""


class Incomplete(Exception):
    """Some reported tokens were not handled (time ran out, or the backend failed)."""


@dataclass(frozen=True)
class Report:
    token: str
    token_type: str = ""
    url: str = ""
    source: str = ""


@dataclass(frozen=True)
class Outcome:
    label: Label
    #: not_ours | gone | already_revoked | inactive | revoked | disabled | already_disabled |
    #: already_reported (a match handled before, alerts.py)
    state: str
    client_id: str | None = None
    tenant: str | None = None

    @property
    def acted(self) -> bool:
        return self.state in ("revoked", "disabled")


def parse_github_reports(body: bytes) -> list[Report]:
    """GitHub's body: ``[{"token", "type", "url", "source"}, ...]`` (url may be empty).

    Parsed within the admin API's JSON limits (nesting, number literals): a signed body is still
    whatever the signer chose, and Python's json module answers a deep nesting with RecursionError."""
    try:
        data = parse_json(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadReport("the body is not UTF-8") from None
    except InvalidJsonError as error:
        raise BadReport(error.message) from None
    if not isinstance(data, list) or not data:
        raise BadReport("the body is not a non-empty list of matches")
    reports = []
    for item in data:
        if not isinstance(item, dict) or not isinstance(item.get("token"), str):
            raise BadReport("a match has no token")
        fields = [item.get(name, "") for name in ("type", "url", "source")]
        if not all(isinstance(value, str) for value in fields):
            raise BadReport("a match's type, url or source is not a string")
        reports.append(Report(item["token"], *fields))
    return reports


def github_feedback(reports: Sequence[Report], outcomes: Sequence[Outcome]) -> list[dict[str, str]]:
    """GitHub's feedback format: one entry per match, in order."""
    return [
        {"token_raw": report.token, "token_type": report.token_type, "label": outcome.label}
        for report, outcome in zip(reports, outcomes, strict=True)
    ]


def _described(text: str, token: str, limit: int) -> str:
    """What a reporter said about where it found the token, as it may be audited and published:
    the token itself and anything shaped like a secret masked, cut to length."""
    return mask_secrets(text, token)[:limit]


@dataclass(frozen=True)
class _Candidate:
    key_id: str
    digest: bytes
    #: The token is verifiably ours before any read (our tag, or an imported token's exact digest).
    verified: bool


class LeakResponder:
    def __init__(
        self,
        admin: AdminContext,
        *,
        action: Action,
        events: EventPublisher,
        audit: Callable[..., None],
        concurrency: int = CONCURRENCY,
        memory: AlertMemory | None = None,
    ) -> None:
        self.admin = admin
        self.action = action
        self.events = events
        self.audit = audit
        self.concurrency = concurrency
        #: GitHub's alerts, which anyone may replay, are remembered (alerts.py); an operator's
        #: reports, made on purpose, are not.
        self.memory = memory

    def respond(self, reports: Sequence[Report], actor: str, remaining: Callable[[], float]) -> list[Outcome]:
        """An outcome per report, in order; Incomplete if any token of ours was left unhandled."""
        try:
            ring: keyring.KeyRing | None = keyring.load(self.admin.store)[0]
        except NotFoundError:
            ring = None  # no keyring yet: this deployment never minted a token, none is ours
        outcomes: dict[str, Outcome] = {}
        candidates: dict[str, tuple[_Candidate, Report]] = {}
        for report in reports:
            if report.token in outcomes or report.token in candidates:
                continue
            candidate = None if ring is None else self._ours(report.token, ring)
            if candidate is None:
                outcomes[report.token] = Outcome(FALSE_POSITIVE, "not_ours")
            else:
                candidates[report.token] = (candidate, report)
        leaked: list[LifecycleEvent] = []
        lock = threading.Lock()
        failed: list[str] = []

        def handle(token: str) -> None:
            if remaining() < DEADLINE_MARGIN_SECONDS:
                failed.append("deadline")
                return
            candidate, report = candidates[token]
            try:
                outcome, event = self._handle_once(candidate, report, actor)
            except TokengateError as error:
                failed.append(error.code)
                return
            with lock:
                outcomes[token] = outcome
                if event is not None:
                    leaked.append(event)

        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            list(pool.map(handle, list(candidates)))
        self.events.publish(leaked)
        if failed:
            raise Incomplete(f"{len(failed)} token(s) not handled ({', '.join(sorted(set(failed)))})")
        return [outcomes[report.token] for report in reports]

    def _ours(self, token: str, ring: keyring.KeyRing) -> _Candidate | None:
        """Offline: is this token one of this deployment's? No read for anything that is not."""
        fmt = self.admin.format
        if fmt.owns(token):
            try:
                parsed = fmt.parse(token)
            except tokens.TokenFormatError:
                return None
            if ring.verify(parsed):
                return _Candidate(parsed.key_id, parsed.digest, verified=True)
            if ring.is_legacy(parsed.key_id):
                return _Candidate(parsed.key_id, parsed.digest, verified=False)
            return None
        if not tokens.may_be_imported(token):
            return None
        digest = tokens.digest(token)
        key_id = ring.imported_key_id(digest)
        return None if key_id is None else _Candidate(key_id, digest, verified=True)

    def _handle_once(self, candidate: _Candidate, report: Report, actor: str) -> tuple[Outcome, LifecycleEvent | None]:
        """A match handled before is answered as it was and changes nothing (a replay must not undo
        a restore); one that is new is handled, then remembered. If the memory cannot be read the
        match is handled anyway (the leak comes first; revoking twice changes nothing); if it cannot
        be written the error makes the answer a 503, and the redelivery writes it."""
        if self.memory is None:
            return self._handle(candidate, report, actor)
        digest = match_digest(report.token, report.url)
        try:
            label = _LABELS.get(self.memory.recall(digest) or "")
        except TokengateError:
            label = None
        if label is not None:
            return Outcome(label, "already_reported", candidate.key_id), None
        outcome, event = self._handle(candidate, report, actor)
        self.memory.remember(digest, outcome.label)
        return outcome, event

    def _handle(self, candidate: _Candidate, report: Report, actor: str) -> tuple[Outcome, LifecycleEvent | None]:
        key_id, digest = candidate.key_id, candidate.digest.hex()
        unverified = TRUE_POSITIVE if candidate.verified else FALSE_POSITIVE
        try:
            record = self.admin.store.get(key_id)
        except NotFoundError:
            return Outcome(unverified, "gone", key_id), None
        except RevokedError:
            return Outcome(unverified, "already_revoked", key_id), None
        now = utcnow_from(self.admin.clock())
        previous = record.previous
        current = record.current_sha256 == digest
        was_previous = previous is not None and previous.sha256 == digest
        label = TRUE_POSITIVE if candidate.verified or current or was_previous else FALSE_POSITIVE
        if not (current or (was_previous and previous is not None and previous.valid_until > now)):
            return Outcome(label, "inactive", key_id, record.tenant), None
        state = self._act(record, actor)
        if state not in ("revoked", "disabled"):
            return Outcome(label, state, key_id, record.tenant), None
        where = {
            "url": _described(report.url, report.token, MAX_URL_CHARS),
            "source": _described(report.source, report.token, MAX_FIELD_CHARS),
            "token_type": _described(report.token_type, report.token, MAX_FIELD_CHARS),
        }
        self.audit("leak", tenant=record.tenant, client_id=key_id, actor=actor, outcome=state, **where)
        event = checked_event(
            self.events,
            DetailType.LEAKED,
            tenant=record.tenant,
            client_id=key_id,
            client_name=record.client_name,
            actor=actor,
            at=now,
            extra={"action": state, **where},
        )
        return Outcome(label, state, key_id, record.tenant), event

    def _act(self, record: ClientRecord, actor: str) -> str:
        """Revoke or disable through the client use cases (their audit and events included)."""
        try:
            if self.action == "revoke":
                clients.revoke_client(self.admin, record.tenant, record.key_id, actor, kind="leak")
                return "revoked"
            if not record.enabled:
                return "already_disabled"
            clients.update(self.admin, record.tenant, record.key_id, {"enabled": False}, actor, kind="leak")
            return "disabled"
        except ConflictError:
            # Revoked meanwhile is done; changed meanwhile is not (the sender delivers again).
            if self.admin.store.describe(record.key_id).revoked:
                return "already_revoked"
            raise


def summary(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """What is logged about a report: counts and the clients acted on, never a token."""
    acted = sorted({o.client_id for o in outcomes if o.acted and o.client_id})
    return {
        "reported": len(outcomes),
        "true_positives": sum(o.label == TRUE_POSITIVE for o in outcomes),
        "acted_on": acted,
    }

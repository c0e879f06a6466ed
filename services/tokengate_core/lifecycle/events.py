"""Lifecycle events: every change to a client is an EventBridge event, for whoever subscribes.

The event's ``source`` is :data:`SOURCE` and its ``detail-type`` one of :class:`DetailType`, both
defined here once (the stack grants PutEvents for exactly these, the docs' sample rule matches
them). The detail says who (``actor``: an IAM ARN, :data:`ACTOR_SCHEDULED_ROTATION` or
:data:`ACTOR_GITHUB`), which client (tenant, id, name), when, and what changed by field name:
never a token, a digest, or any other value that authenticates. :class:`LifecycleEvent` refuses
a field outside :data:`DETAIL_FIELDS` and any value shaped like a token or a digest, so no code
path can put one in by mistake.

Publishing never fails the change it reports: a change that happened is not undone because its
event could not be sent, nor because it could not be made (:func:`checked_event` reports a detail
the event refuses as an undelivered event). It is never silent either: :class:`EventBridgePublisher`
retries a few times (a failed call, and the entries a successful call reports in
``FailedEntryCount``), then writes one error line that is also a metric
(:data:`METRIC_EVENTS_FAILED`), which an alarm watches.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote

from tokengate_core.lifecycle.detail_types import DetailType
from tokengate_core.runtime.observability import REDACTED
from tokengate_core.tokens import format as tokens

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

SOURCE = "tokengate"


#: Actors that are not IAM principals: Secrets Manager's schedule (the rotation function's
#: finishSecret), GitHub's secret scanning (the leak endpoint) and the daily sweep (which reports
#: what is about to end rather than changing anything).
ACTOR_SCHEDULED_ROTATION = "scheduled-rotation"
ACTOR_GITHUB = "github-secret-scanning"
ACTOR_SCHEDULED_SWEEP = "scheduled-sweep"

#: Every field a detail may carry. Values are names, times, counts and flags; the leak fields
#: (``url``, ``source``, ``token_type``) are what the reporter said about where it found a token.
DETAIL_FIELDS = frozenset(
    {
        "tenant",
        "client_id",
        "client_name",
        "actor",
        "time",
        "changed",
        "expires_at",
        "previous_token_valid_until",
        "subject",
        "imported",
        "recovery_window_days",
        "action",
        "url",
        "source",
        "token_type",
        "threshold",
        "quota_used",
        "quota_limit",
        "period",
        "last_used_at",
        "stale_after_days",
    }
)
#: A detail value that must never appear: a token of any deployment, or a SHA-256 in hex.
_SECRET_SHAPED = tokens.SECRET_SHAPED
#: The same, in any case: what is masked out of values that come from outside.
_SECRET_SHAPED_ANY_CASE = re.compile(_SECRET_SHAPED.pattern, re.IGNORECASE)
#: Rounds of percent-decoding before masking: one per level of encoding a reporter's text may carry.
MAX_DECODE_ROUNDS = 4
#: EventBridge takes at most this many entries per PutEvents call.
MAX_ENTRIES_PER_CALL = 10
#: Calls per batch (the first included) before the failure is reported.
MAX_ATTEMPTS = 3
BACKOFF_SECONDS = 0.05
METRIC_EVENTS_FAILED = "LifecycleEventsFailed"

Value = str | int | bool | None | list[str]


def iso(moment: datetime | None) -> str | None:
    """In UTC; a moment with no UTC form (the ends of datetime's range shifted by its offset, kept
    in a record from before times were bounded) in its own offset, still ISO 8601 with a zone."""
    if moment is None:
        return None
    try:
        return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    except OverflowError:
        return moment.isoformat()


def mask_secrets(text: str, *known: str) -> str:
    """``text`` as a detail or an audit line may hold it, for values that come from outside (where
    a reporter found a token): percent-decoded until nothing changes (a URL may carry a token
    encoded, ``%5F`` or ``%5f`` for ``_``, or every character, or twice), then each ``known``
    secret and anything shaped like one (a token of any deployment, a SHA-256 in hex) replaced,
    in any case. Text still encoded after :data:`MAX_DECODE_ROUNDS` rounds is withheld whole."""
    for _ in range(MAX_DECODE_ROUNDS):
        decoded = unquote(text, errors="replace")
        if decoded == text:
            break
        text = decoded
    else:
        return REDACTED
    for secret in known:
        if secret:
            text = re.sub(re.escape(secret), REDACTED, text, flags=re.IGNORECASE)
    return _SECRET_SHAPED_ANY_CASE.sub(REDACTED, text)


class UnsafeDetailError(ValueError):
    """A detail field that is not one of DETAIL_FIELDS, or a value shaped like a token or digest."""


@dataclass(frozen=True)
class LifecycleEvent:
    detail_type: DetailType
    tenant: str
    client_id: str
    client_name: str
    actor: str
    at: datetime
    changed: tuple[str, ...] = ()
    extra: dict[str, Value] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.extra) - DETAIL_FIELDS
        if unknown:
            raise UnsafeDetailError(f"not a detail field: {', '.join(sorted(unknown))}")
        if _SECRET_SHAPED.search(json.dumps(self.detail())):
            raise UnsafeDetailError("a detail value is shaped like a token or a digest")

    def detail(self) -> dict[str, Value]:
        return {
            "tenant": self.tenant,
            "client_id": self.client_id,
            "client_name": self.client_name,
            "actor": self.actor,
            "time": iso(self.at),
            "changed": sorted(self.changed),
            **self.extra,
        }

    def entry(self, bus: str) -> dict[str, Any]:
        """The PutEvents request entry."""
        return {
            "Source": SOURCE,
            "DetailType": self.detail_type.value,
            "Detail": json.dumps(self.detail(), separators=(",", ":"), sort_keys=True),
            "EventBusName": bus,
            "Time": self.at,
        }


class EventPublisher(Protocol):
    def publish(self, events: Sequence[LifecycleEvent]) -> None: ...

    def refused(self, detail_type: DetailType, client_id: str, reason: str) -> None:
        """Report an event that could not be made, as an undelivered one is reported."""
        ...


def checked_event(events: EventPublisher, detail_type: DetailType, **fields: Any) -> LifecycleEvent | None:
    """The event for a change that happened, or None once ``events`` has reported why it could not
    be made (a value the detail refuses, a bug): a change is never failed by its event.

    The actor is an IAM ARN, part of which (a role session name) its caller chooses: anything in it
    shaped like a secret is masked rather than costing the event."""
    if isinstance(fields.get("actor"), str):
        fields["actor"] = mask_secrets(fields["actor"])
    try:
        return LifecycleEvent(detail_type, **fields)
    except Exception as error:  # noqa: BLE001 - UnsafeDetailError, or a bug: reported, never raised
        events.refused(detail_type, str(fields.get("client_id", "")), f"refused: {type(error).__name__}")
        return None


def announce(events: EventPublisher, detail_type: DetailType, **fields: Any) -> None:
    """Publish the event for one change that happened; never raises (see :func:`checked_event`)."""
    event = checked_event(events, detail_type, **fields)
    if event is not None:
        events.publish([event])


class BufferedEvents:
    """Collects events from many threads, to send them in as few calls as possible at the end."""

    def __init__(self) -> None:
        self._events: list[LifecycleEvent] = []
        self._refused: list[tuple[DetailType, str, str]] = []
        self._lock = threading.Lock()

    def publish(self, events: Sequence[LifecycleEvent]) -> None:
        with self._lock:
            self._events.extend(events)

    def refused(self, detail_type: DetailType, client_id: str, reason: str) -> None:
        with self._lock:
            self._refused.append((detail_type, client_id, reason))

    def flush(self, to: EventPublisher) -> None:
        with self._lock:
            events, self._events = self._events, []
            refused, self._refused = self._refused, []
        for detail_type, client_id, reason in refused:
            to.refused(detail_type, client_id, reason)
        if events:
            to.publish(events)


class NoEvents:
    """A publisher that sends nothing (a caller that was given none)."""

    def publish(self, events: Sequence[LifecycleEvent]) -> None:
        return None

    def refused(self, detail_type: DetailType, client_id: str, reason: str) -> None:
        return None


@dataclass(frozen=True)
class FailedDelivery:
    """What is logged about events that could not be sent: never their detail beyond the ids."""

    detail_types: list[str]
    client_ids: list[str]
    reason: str

    @property
    def count(self) -> int:
        return len(self.client_ids)


def _batches(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _error_code(error: Exception) -> str:
    response = getattr(error, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return str(code or type(error).__name__)


class EventBridgePublisher:
    """PutEvents on one bus, the client built on first use (a cold start that publishes nothing
    never builds it). ``on_failure`` is called once per batch that could not be sent."""

    def __init__(
        self,
        client_factory: Callable[[], EventBridgeClient],
        bus: str,
        on_failure: Callable[[FailedDelivery], None],
        *,
        max_attempts: int = MAX_ATTEMPTS,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._factory = client_factory
        self._client: EventBridgeClient | None = None
        self.bus = bus
        self._on_failure = on_failure
        self._max_attempts = max_attempts
        self._sleep = sleep

    @property
    def client(self) -> EventBridgeClient:
        if self._client is None:
            self._client = self._factory()
        return self._client

    def publish(self, events: Sequence[LifecycleEvent]) -> None:
        for batch in _batches(list(events), MAX_ENTRIES_PER_CALL):
            try:
                self._send(batch)
            except Exception as error:  # noqa: BLE001 - a bug here must not fail the change either
                self._report(batch, f"unexpected {type(error).__name__}")

    def refused(self, detail_type: DetailType, client_id: str, reason: str) -> None:
        self._on_failure(FailedDelivery(detail_types=[detail_type.value], client_ids=[client_id], reason=reason))

    def _send(self, batch: Sequence[LifecycleEvent]) -> None:
        pending = list(batch)
        reason = ""
        for attempt in range(self._max_attempts):
            if attempt:
                self._sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
            try:
                response = self.client.put_events(Entries=[e.entry(self.bus) for e in pending])  # type: ignore[misc]
            except Exception as error:  # noqa: BLE001 - throttling, timeouts, refusals: all retried, then reported
                reason = _error_code(error)
                continue
            results = list(response.get("Entries") or [])
            failed_count = int(response.get("FailedEntryCount") or 0)
            # Each result answers the request entry at its position; one with an ErrorCode failed.
            failed = [e for e, r in zip(pending, results, strict=False) if r.get("ErrorCode")]
            if failed_count and not failed:
                failed = pending  # a count without per-entry results: every entry is in doubt
            if not failed:
                return
            codes = sorted({str(r.get("ErrorCode")) for r in results if r.get("ErrorCode")})
            reason = f"FailedEntryCount={failed_count}" + (f" ({', '.join(codes)})" if codes else "")
            pending = failed
        self._report(pending, reason)

    def _report(self, events: Sequence[LifecycleEvent], reason: str) -> None:
        self._on_failure(
            FailedDelivery(
                detail_types=[e.detail_type.value for e in events],
                client_ids=[e.client_id for e in events],
                reason=reason,
            )
        )


def event_failure_reporter(service: str, namespace: str) -> Callable[[FailedDelivery], None]:
    """Report a failed delivery as one error log line that is also the metric an alarm watches."""
    from tokengate_core.runtime.observability import emit_metric

    def report(failure: FailedDelivery) -> None:
        emit_metric(
            service,
            METRIC_EVENTS_FAILED,
            failure.count,
            {
                "detail_types": failure.detail_types,
                "client_ids": failure.client_ids,
                "reason": failure.reason,
            },
            namespace=namespace,
            message="lifecycle events not delivered",
            level="ERROR",
        )

    return report

"""Lifecycle events: what a detail may hold, and how the publisher batches, retries and reports."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.support import SIGN
from tokengate_core.lifecycle.detail_types import DetailType
from tokengate_core.lifecycle.events import (
    DETAIL_FIELDS,
    MAX_ATTEMPTS,
    MAX_DECODE_ROUNDS,
    SOURCE,
    EventBridgePublisher,
    FailedDelivery,
    LifecycleEvent,
    UnsafeDetailError,
    mask_secrets,
)
from tokengate_core.tokens import format as tokens

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def event(n: int = 0, **extra: Any) -> LifecycleEvent:
    key_id, actor = tokens.encode_key_id(n), "arn:aws:iam::1:user/a"
    return LifecycleEvent(DetailType.UPDATED, "acme", key_id, f"svc-{n}", actor, NOW, ("enabled",), extra)


class FakeEvents:
    """put_events answering from a script: an exception, or the per-entry error codes (None: ok)."""

    def __init__(self, script: list[Any]) -> None:
        self.script = script
        self.calls: list[list[dict[str, Any]]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append(Entries)
        step = self.script.pop(0) if self.script else None
        if isinstance(step, Exception):
            raise step
        if callable(step):
            return step(Entries)  # type: ignore[no-any-return]
        codes = step or [None] * len(Entries)
        results = [{"ErrorCode": c, "ErrorMessage": "x"} if c else {"EventId": "id"} for c in codes]
        return {"FailedEntryCount": sum(1 for c in codes if c), "Entries": results}


def publisher(client: FakeEvents) -> tuple[EventBridgePublisher, list[FailedDelivery]]:
    failures: list[FailedDelivery] = []
    return EventBridgePublisher(lambda: client, "default", failures.append, sleep=lambda _: None), failures  # type: ignore[arg-type,return-value]


def test_the_detail_names_the_client_the_actor_the_time_and_the_changed_fields() -> None:
    entry = event(expires_at="2026-02-01T00:00:00Z").entry("my-bus")
    assert entry["Source"] == SOURCE and entry["DetailType"] == "Client Updated" and entry["EventBusName"] == "my-bus"
    assert json.loads(entry["Detail"]) == {
        "tenant": "acme",
        "client_id": tokens.encode_key_id(0),
        "client_name": "svc-0",
        "actor": "arn:aws:iam::1:user/a",
        "time": "2026-01-02T03:04:05Z",
        "changed": ["enabled"],
        "expires_at": "2026-02-01T00:00:00Z",
    }
    assert set(json.loads(entry["Detail"])) <= DETAIL_FIELDS


def test_a_detail_never_holds_a_token_a_digest_or_an_unknown_field() -> None:
    token = tokens.generate(tokens.new_key_id(), SIGN)
    for extra in (
        {"url": f"https://example.com/?t={token}"},
        {"url": tokens.digest(token).hex()},
        {"source": token.upper().lower()[:40]},  # a prefix and a key id are enough to refuse it
    ):
        with pytest.raises(UnsafeDetailError):
            event(0, **extra)
    with pytest.raises(UnsafeDetailError, match="token_digest"):
        event(token_digest="x")


def test_events_go_out_ten_per_call() -> None:
    client = FakeEvents([])
    pub, failures = publisher(client)
    pub.publish([event(n) for n in range(23)])
    assert [len(call) for call in client.calls] == [10, 10, 3]
    assert failures == []


def test_only_the_failed_entries_are_retried_then_reported() -> None:
    client = FakeEvents([[None, "ThrottlingException", None], ["ThrottlingException"], ["InternalFailure"]])
    pub, failures = publisher(client)
    events = [event(n) for n in range(3)]
    pub.publish(events)
    assert [len(call) for call in client.calls] == [3, 1, 1]
    assert json.loads(client.calls[1][0]["Detail"])["client_id"] == events[1].client_id
    (failure,) = failures
    assert failure.client_ids == [events[1].client_id] and failure.count == 1
    assert failure.reason == "FailedEntryCount=1 (InternalFailure)"


def test_a_failed_entry_count_without_entry_codes_retries_the_whole_batch() -> None:
    client = FakeEvents([lambda entries: {"FailedEntryCount": 1, "Entries": []}] * MAX_ATTEMPTS)
    pub, failures = publisher(client)
    pub.publish([event(0), event(1)])
    assert len(client.calls) == MAX_ATTEMPTS and all(len(c) == 2 for c in client.calls)
    assert failures[0].count == 2 and failures[0].reason == "FailedEntryCount=1"


def test_a_call_that_fails_is_retried_a_bounded_number_of_times_then_reported() -> None:
    client = FakeEvents([TimeoutError(), TimeoutError(), TimeoutError(), TimeoutError()])
    pub, failures = publisher(client)
    pub.publish([event()])
    assert len(client.calls) == MAX_ATTEMPTS
    assert failures[0].reason == "TimeoutError"
    client = FakeEvents([TimeoutError(), None])
    pub, failures = publisher(client)
    pub.publish([event()])
    assert len(client.calls) == 2 and failures == []


def test_a_client_that_cannot_be_built_is_reported_not_raised() -> None:
    failures: list[FailedDelivery] = []

    def broken() -> Any:
        raise RuntimeError("no region")

    EventBridgePublisher(broken, "default", failures.append, sleep=lambda _: None).publish([event()])
    assert failures and failures[0].reason.startswith(("RuntimeError", "unexpected"))


def test_the_failure_line_is_an_error_log_and_a_metric(capsys: pytest.CaptureFixture[str]) -> None:
    from tokengate_core.lifecycle.events import event_failure_reporter

    report: Callable[[FailedDelivery], None] = event_failure_reporter("tokengate-admin", "tokengate/Prod")
    report(FailedDelivery(["Client Issued"], ["abc"], "ThrottlingException"))
    line = json.loads(capsys.readouterr().out)
    assert line["level"] == "ERROR" and line["LifecycleEventsFailed"] == 1 and line["reason"] == "ThrottlingException"
    assert line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "tokengate/Prod"


def _encoded(text: str, *, lower: bool = False) -> str:
    """Every character percent-encoded."""
    encoded = "".join(f"%{byte:02X}" for byte in text.encode())
    return encoded.lower() if lower else encoded


TOKEN = tokens.generate(tokens.new_key_id(), SIGN, "acme_")
DIGEST = tokens.digest(TOKEN).hex()
#: An imported token: no shape to recognise, only its value, with characters a URL encodes.
IMPORTED = "Ref/Tok+en=Value-4qK9vTz2Lw8nXc3Rb"


#: Where a token may sit in a reporter's URL, and how it may be written there.
URLS: dict[str, Callable[[], str]] = {
    "path": lambda: f"https://paste.example/{TOKEN}",
    "query": lambda: f"https://paste.example/x?token={TOKEN}&a=1",
    "fragment": lambda: f"https://paste.example/x#{TOKEN}",
    "userinfo": lambda: f"https://{TOKEN}:x@paste.example/",
    "underscore-encoded": lambda: f"https://paste.example/x?token={TOKEN.replace('_', '%5F')}",
    "underscore-encoded-lower-hex": lambda: f"https://paste.example/x?token={TOKEN.replace('_', '%5f')}",
    "all-encoded": lambda: f"https://paste.example/x?token={_encoded(TOKEN)}",
    "all-encoded-lower-hex-fragment": lambda: f"https://paste.example/x#{_encoded(TOKEN, lower=True)}",
    "encoded-twice": lambda: f"https://paste.example/x?token={_encoded(TOKEN).replace('%', '%25')}",
    "upper-and-lower-case": lambda: f"https://paste.example/x?token={TOKEN.upper()}&again={TOKEN.lower()}",
    "digest-any-case": lambda: f"https://paste.example/x?digest={DIGEST.upper()}#{DIGEST}",
    "imported-encoded-and-lower": lambda: f"https://paste.example/x?t={_encoded(IMPORTED)}#{IMPORTED.lower()}",
    "imported-in-path": lambda: f"https://paste.example/{IMPORTED}",
}


@pytest.mark.parametrize("where", list(URLS))
def test_text_from_outside_is_masked_after_decoding_in_any_case(where: str) -> None:
    masked = mask_secrets(URLS[where](), IMPORTED)
    assert "[redacted]" in masked
    for secret in (TOKEN, TOKEN.split("_", 2)[2][:20], DIGEST, IMPORTED):
        assert secret.lower() not in masked.lower()
    # What a detail may hold: the event built with it is accepted.
    assert event(url=masked).detail()["url"] == masked


def test_text_encoded_more_times_than_decoded_is_withheld_whole() -> None:
    url = f"https://paste.example/x?token={TOKEN}"
    for _ in range(MAX_DECODE_ROUNDS):
        url = _encoded(url)
    assert mask_secrets(url) == "[redacted]"
    assert mask_secrets("https://paste.example/plain?a=1%202") == "https://paste.example/plain?a=1 2"

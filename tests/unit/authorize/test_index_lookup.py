"""The authorizer's lookups in the digest index and its reads of the change feed, under faults:
throttling, 5xx and timeouts on either, feed entries missing or out of order, a gap, an index item
that is corrupt or another client's or tenant's. A decision never raises (moto's backends)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError

from tests.support import FakeClock
from tests.unit.aws_in_memory import ACTOR, client_error, context
from tokengate_core.admin import clients
from tokengate_core.admin.api import IssueClientRequest
from tokengate_core.admin.context import AdminContext
from tokengate_core.authorize.cache import CONSISTENT_READ_SECONDS
from tokengate_core.authorize.decision import Reason, TokenAuthorizer
from tokengate_core.authorize.settings import AuthorizerSettings
from tokengate_core.records import feed
from tokengate_core.records.feed import FEED_FALLBACK_SECONDS, FEED_GAP_SECONDS, FEED_INTERVAL_SECONDS
from tokengate_core.records.index import index_key

SETTINGS = AuthorizerSettings()
FAULTS = [
    client_error("ProvisionedThroughputExceededException"),
    client_error("ThrottlingException"),
    client_error("InternalServerError", status=500),
    ReadTimeoutError(endpoint_url="http://127.0.0.1"),
]


class DynamoDB:
    """moto's DynamoDB with a switchable fault per operation, recording each GetItem's consistency."""

    def __init__(self) -> None:
        self.client = boto3.client("dynamodb", region_name="us-east-1")
        self.faults: dict[str, Exception] = {}
        self.reads: list[tuple[str, bool]] = []  # (pk, ConsistentRead) of each GetItem
        self.batches: list[tuple[list[str], bool]] = []  # (pks, ConsistentRead) of each BatchGetItem
        self.queries = 0

    def get_item(self, **request: Any) -> Any:
        self.reads.append((request["Key"]["pk"]["S"], bool(request.get("ConsistentRead"))))
        if "get_item" in self.faults:
            raise self.faults["get_item"]
        return self.client.get_item(**request)

    def batch_get_item(self, **request: Any) -> Any:
        (read,) = request["RequestItems"].values()
        self.batches.append(([key["pk"]["S"] for key in read["Keys"]], bool(read.get("ConsistentRead"))))
        if "batch_get_item" in self.faults:
            raise self.faults["batch_get_item"]
        return self.client.batch_get_item(**request)

    def query(self, **request: Any) -> Any:
        self.queries += 1
        if "query" in self.faults:
            raise self.faults["query"]
        return self.client.query(**request)


class Setup:
    def __init__(self) -> None:
        self.ctx: AdminContext = context(boto3.client("secretsmanager", region_name="us-east-1"))
        self.dynamodb = DynamoDB()
        self.clock = FakeClock(now=time.time())
        self.authz = TokenAuthorizer(
            SETTINGS,
            lambda: self.ctx.store,
            clock=self.clock,
            dynamodb_factory=lambda: self.dynamodb,  # type: ignore[arg-type,return-value]
        )

    def issue(self, name: str, **fields: Any) -> tuple[str, str]:
        issued = clients.issue(self.ctx, "acme", IssueClientRequest(client_name=name, **fields), ACTOR)
        return issued.client.client_id, issued.token

    def reason(self, token: str) -> Reason:
        return self.authz.decide(token, "GET", "ANY /invoke").reason

    def index_reads(self) -> list[tuple[str, bool]]:
        return [read for read in self.dynamodb.reads if read[0].startswith("index#")]


@pytest.fixture
def setup(aws: None) -> Iterator[Setup]:
    yield Setup()


def edit_item(setup: Setup, key_id: str, **attributes: Any) -> None:
    """Rewrite an index item behind the writers' backs (no feed entry)."""
    client = setup.dynamodb.client
    item = client.get_item(TableName=SETTINGS.table_name, Key=index_key(key_id))["Item"]
    client.put_item(TableName=SETTINGS.table_name, Item={**item, **attributes})


def test_a_warm_decision_reads_nothing_until_the_feed_is_due(setup: Setup) -> None:
    _, token = setup.issue("bot")
    assert setup.reason(token) is Reason.ALLOWED
    reads, queries = len(setup.dynamodb.reads), setup.dynamodb.queries
    for _ in range(1000):
        assert setup.reason(token) is Reason.ALLOWED
    assert (len(setup.dynamodb.reads), setup.dynamodb.queries) == (reads, queries)
    setup.clock.advance(FEED_INTERVAL_SECONDS)
    assert setup.reason(token) is Reason.ALLOWED
    assert setup.dynamodb.queries == queries + 1 and len(setup.dynamodb.reads) == reads


def test_a_client_the_feed_names_is_read_again_consistently(setup: Setup) -> None:
    key_id, token = setup.issue("bot")
    _, warm = setup.issue("warm")
    # A container's first feed read forgets what it held, and its lookups read consistently for a
    # while: an eventually consistent read just after a write may not reflect it.
    assert setup.reason(warm) is Reason.ALLOWED and setup.index_reads()[-1][1] is True
    setup.clock.advance(CONSISTENT_READ_SECONDS)
    assert setup.reason(token) is Reason.ALLOWED
    assert setup.index_reads()[-1] == (f"index#{key_id}", False)  # eventually consistent by default
    clients.update(setup.ctx, "acme", key_id, {"enabled": False}, ACTOR)
    setup.clock.advance(FEED_INTERVAL_SECONDS)
    assert setup.reason(token) is Reason.DISABLED
    assert setup.dynamodb.batches[-1] == ([f"index#{key_id}"], True)  # the feed read's refresh


@pytest.mark.parametrize("fault", FAULTS)
def test_index_faults_answer_stale_or_unavailable_and_never_raise(setup: Setup, fault: Exception) -> None:
    _, cached = setup.issue("cached")
    _, uncached = setup.issue("uncached")
    assert setup.reason(cached) is Reason.ALLOWED
    setup.dynamodb.faults = {"get_item": fault}
    assert setup.reason(uncached) is Reason.BACKEND_UNAVAILABLE
    assert setup.reason(cached) is Reason.ALLOWED  # cached: no read needed
    setup.dynamodb.faults = {"get_item": fault, "query": fault}
    setup.clock.advance(FEED_FALLBACK_SECONDS + SETTINGS.fallback_ttl_seconds)  # short TTL, expired
    decision = setup.authz.decide(cached, "GET", "ANY /invoke")
    assert decision.allowed and decision.cache == "stale"
    setup.clock.advance(SETTINGS.max_stale_seconds)
    assert setup.reason(cached) is Reason.BACKEND_UNAVAILABLE  # stale-if-error has its bound


@pytest.mark.parametrize("fault", FAULTS)
def test_an_unreadable_feed_falls_back_to_the_short_ttl(setup: Setup, fault: Exception) -> None:
    key_id, token = setup.issue("bot")
    assert setup.reason(token) is Reason.ALLOWED
    assert setup.authz.cache.ttl == SETTINGS.cache_ttl_seconds
    setup.dynamodb.faults = {"query": fault}
    clients.revoke(setup.ctx, "acme", key_id, ACTOR)
    setup.clock.advance(FEED_FALLBACK_SECONDS - 1)
    assert setup.reason(token) is Reason.ALLOWED  # the long TTL holds while the feed may yet come back
    setup.clock.advance(1)
    assert setup.reason(token) is Reason.ALLOWED
    assert setup.authz.cache.ttl == SETTINGS.fallback_ttl_seconds
    setup.clock.advance(SETTINGS.fallback_ttl_seconds)
    assert setup.reason(token) is Reason.REVOKED  # the entry expired and the index was read


def test_a_lost_feed_entry_is_a_gap_and_the_gap_resyncs(setup: Setup) -> None:
    key_id, token = setup.issue("bot")
    _, other = setup.issue("other")
    assert setup.reason(token) is Reason.ALLOWED
    # A revoke whose feed entry never arrived: its number is taken, its entry missing.
    setup.ctx.index.revoke(key_id)
    client = setup.dynamodb.client
    client.update_item(
        TableName=SETTINGS.table_name,
        Key=feed.head_key(),
        UpdateExpression="ADD seq :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    feed.append(client, SETTINGS.table_name, setup.issue("third")[0], "issue")  # seen past the gap
    setup.clock.advance(FEED_INTERVAL_SECONDS)
    assert setup.reason(token) is Reason.ALLOWED  # the gap is waited for
    setup.clock.advance(FEED_GAP_SECONDS)
    assert setup.reason(token) is Reason.REVOKED  # given up on: the cache was cleared
    assert setup.reason(other) is Reason.ALLOWED


def test_entries_out_of_order_apply_as_soon_as_they_are_seen(setup: Setup) -> None:
    first_id, first = setup.issue("first")
    second_id, second = setup.issue("second")
    assert setup.reason(first) is setup.reason(second) is Reason.ALLOWED
    client, table = setup.dynamodb.client, SETTINGS.table_name
    setup.ctx.index.revoke(first_id)
    setup.ctx.index.revoke(second_id)
    early = int(
        client.update_item(
            TableName=table,
            Key=feed.head_key(),
            UpdateExpression="ADD seq :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="UPDATED_NEW",
        )["Attributes"]["seq"]["N"]
    )
    feed.append(client, table, second_id, "revoke")  # the later entry lands first
    setup.clock.advance(FEED_INTERVAL_SECONDS)
    assert setup.reason(second) is Reason.REVOKED and setup.reason(first) is Reason.ALLOWED
    client.put_item(
        TableName=table,
        Item={
            "pk": {"S": "feed"},
            "sk": {"S": feed.entry_sk(early)},
            "key_id": {"S": first_id},
            "kind": {"S": "revoke"},
        },
    )
    setup.clock.advance(FEED_INTERVAL_SECONDS)
    assert setup.reason(first) is Reason.REVOKED


@pytest.mark.parametrize(
    "attributes",
    [
        {"doc": {"S": "{not json"}},
        {"doc": {"N": "1"}},
        {"state": {"S": "paused"}},
        {"version": {"S": "x"}},
        {"tenant": {"S": "globex"}},  # the doc is acme's: copied onto another tenant's item
    ],
)
def test_a_corrupt_or_foreign_index_item_is_a_corrupt_record(setup: Setup, attributes: dict[str, Any]) -> None:
    key_id, token = setup.issue("bot")
    edit_item(setup, key_id, **attributes)
    assert setup.reason(token) is Reason.CORRUPT_RECORD


def test_another_clients_doc_is_a_corrupt_record(setup: Setup) -> None:
    key_id, token = setup.issue("bot")
    other_id, _ = setup.issue("other")
    theirs = setup.dynamodb.client.get_item(TableName=SETTINGS.table_name, Key=index_key(other_id))["Item"]
    edit_item(setup, key_id, doc=theirs["doc"])
    assert setup.reason(token) is Reason.CORRUPT_RECORD


def test_a_doc_that_holds_a_token_is_refused(setup: Setup) -> None:
    key_id, token = setup.issue("bot")
    item = setup.dynamodb.client.get_item(TableName=SETTINGS.table_name, Key=index_key(key_id))["Item"]
    doc = json.loads(item["doc"]["S"])
    edit_item(setup, key_id, doc={"S": json.dumps({**doc, "token": token})})
    assert setup.reason(token) is Reason.CORRUPT_RECORD


def test_a_pending_token_is_accepted_as_current(setup: Setup) -> None:
    key_id, token = setup.issue("bot")
    record = setup.ctx.store.get(key_id)
    new = setup.ctx.format.generate(key_id, setup.ctx.signer(setup.clock.now))
    from tokengate_core.tokens import format as tokens

    setup.ctx.index.write(record, "active", pending_sha256=tokens.digest(new).hex())
    decision = setup.authz.decide(new, "GET", "ANY /invoke")
    assert decision.allowed and not decision.grace and (decision.context or {})["token_status"] == "current"
    assert setup.reason(token) is Reason.ALLOWED


def test_a_feed_read_refreshes_the_cached_clients_it_names_in_one_consistent_read(setup: Setup) -> None:
    revoked, revoked_token = setup.issue("revoked")
    disabled, disabled_token = setup.issue("disabled")
    _, warm = setup.issue("warm")
    idle, _ = setup.issue("idle")  # never presented here: not cached
    for token in (revoked_token, disabled_token, warm):
        assert setup.reason(token) is Reason.ALLOWED
    clients.revoke(setup.ctx, "acme", revoked, ACTOR)
    clients.update(setup.ctx, "acme", disabled, {"enabled": False}, ACTOR)
    clients.update(setup.ctx, "acme", idle, {"enabled": False}, ACTOR)
    setup.clock.advance(FEED_INTERVAL_SECONDS)
    assert setup.reason(warm) is Reason.ALLOWED  # this decision reads the feed, and refreshes
    assert setup.dynamodb.batches == [([f"index#{revoked}", f"index#{disabled}"], True)]
    reads = len(setup.dynamodb.reads)
    assert setup.reason(revoked_token) is Reason.REVOKED
    assert setup.reason(disabled_token) is Reason.DISABLED
    assert len(setup.dynamodb.reads) == reads  # both decided from what the refresh read


@pytest.mark.parametrize("fault", FAULTS)
def test_a_failed_refresh_leaves_the_named_clients_to_their_next_lookup(setup: Setup, fault: Exception) -> None:
    key_id, token = setup.issue("bot")
    _, warm = setup.issue("warm")
    assert setup.reason(token) is Reason.ALLOWED and setup.reason(warm) is Reason.ALLOWED
    clients.revoke(setup.ctx, "acme", key_id, ACTOR)
    setup.dynamodb.faults = {"batch_get_item": fault}
    setup.clock.advance(FEED_INTERVAL_SECONDS)
    assert setup.reason(warm) is Reason.ALLOWED  # the feed read, its refresh failing
    assert len(setup.dynamodb.batches) == 1
    assert setup.reason(token) is Reason.REVOKED  # evicted all the same: read again, consistently
    assert setup.index_reads()[-1] == (f"index#{key_id}", True)


def test_after_a_refresh_a_token_the_change_retired_is_denied_without_another_read(setup: Setup) -> None:
    key_id, old = setup.issue("bot", grace_seconds=0)
    _, warm = setup.issue("warm")
    assert setup.reason(old) is Reason.ALLOWED and setup.reason(warm) is Reason.ALLOWED
    new = clients.rotate(setup.ctx, "acme", key_id, ACTOR).token
    setup.clock.advance(FEED_INTERVAL_SECONDS)
    assert setup.reason(warm) is Reason.ALLOWED  # the feed read and its refresh
    reads = len(setup.dynamodb.reads)
    assert setup.reason(old) is Reason.WRONG_SECRET
    assert setup.reason(new) is Reason.ALLOWED
    assert len(setup.dynamodb.reads) == reads  # neither token needed a read of its own

"""Section 4: 10,000 clients: issue rate, paging the list, cache memory, and warm cost at scale."""

from __future__ import annotations

import gc
import json
import time
import tracemalloc
from typing import Any

from bench import baseline
from bench.common import (
    ACCOUNT,
    ADMIN_ARN,
    TENANT,
    Stats,
    fmt_us,
    import_quietly,
    quiet,
    say,
    time_calls,
)
from bench.context import Bench, Client
from bench.tables import ItemTable, KeyringSecrets
from tokengate.testing.gateway_events import FakeContext, admin_event, authorizer_event

TITLE = "4. Scale"
SCOPES = ["ANY /invoke"]


def _direct_store() -> Any:
    """A SecretsStore whose CreateSecret goes straight into the emulator's moto backend (same process),
    skipping boto3 and HTTP: for bulk-creating clients once their issue rate has been measured."""
    from moto.secretsmanager.models import secretsmanager_backends

    from tokengate_core.records.model import ClientRecord
    from tokengate_core.records.store import SecretsStore, record_tags, tag_list

    backend = secretsmanager_backends[ACCOUNT]["us-east-1"]

    class DirectStore(SecretsStore):
        def create(self, record: ClientRecord, request_token: str) -> str:
            created = backend.create_secret(
                name=self.secret_id(record.key_id),
                secret_string=record.to_secret_string(),
                secret_binary=None,
                description=f"tokengate client {record.client_name} of tenant {record.tenant}",
                tags=[{"Key": t["Key"], "Value": t["Value"]} for t in tag_list(record_tags(record))],
                kms_key_id=None,
                client_request_token=request_token,
                replica_regions=[],
                force_overwrite=False,
            )
            return str(json.loads(created)["ARN"])

    from tokengate_core.deployment.config import AdminSettings
    from tokengate_core.runtime.aws import secretsmanager_client

    return DirectStore(client=secretsmanager_client(AdminSettings()), prefix="tokengate/clients/")


class _DirectTable:
    """The bulk phase's DynamoDB calls (the index item's version read and write, the feed's
    append), made in the emulator's moto backend in-process: the same items as over HTTP, without
    boto3 and the loopback round trips, four per client. Only what those writes call is here."""

    def __init__(self, bench: Bench) -> None:
        from moto.dynamodb.models import dynamodb_backends

        self._backend = dynamodb_backends[ACCOUNT]["us-east-1"]
        self._lock = bench.emulator.moto_lock  # moto's backends are not thread-safe

    def get_item(self, *, TableName: str, Key: dict[str, Any], **_: Any) -> dict[str, Any]:
        with self._lock:
            item = self._backend.get_item(TableName, Key)
        return {"Item": item.to_json()["Attributes"]} if item is not None else {}

    def put_item(
        self,
        *,
        TableName: str,
        Item: dict[str, Any],
        ConditionExpression: str | None = None,
        ExpressionAttributeNames: dict[str, Any] | None = None,
        ExpressionAttributeValues: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        with self._lock:
            self._backend.put_item(
                TableName,
                Item,
                condition_expression=ConditionExpression,
                expression_attribute_names=ExpressionAttributeNames,
                expression_attribute_values=ExpressionAttributeValues,
            )
        return {}

    def update_item(
        self,
        *,
        TableName: str,
        Key: dict[str, Any],
        UpdateExpression: str,
        ExpressionAttributeValues: dict[str, Any],
        **_: Any,  # ReturnValues: the whole item is answered, which holds what any asks for
    ) -> dict[str, Any]:
        with self._lock:
            item = self._backend.update_item(TableName, Key, UpdateExpression, {}, ExpressionAttributeValues)
        return {"Attributes": item.to_json()["Attributes"]}


def bulk_context(bench: Bench) -> Any:
    """The admin context of bulk issues: the admin function's, with its secrets, index items and feed
    entries written into the emulator's backend in-process. For setting clients up, never for timing
    an issue."""
    from tokengate_core.admin.context import AdminContext
    from tokengate_core.records.names import NameRegistry

    class _DistinctNames(NameRegistry):
        """Bulk names are distinct by construction (``client-00042``), so their claims are skipped;
        the handler and service phases measure issuing with real claims."""

        def claim(self, tenant: str, name: str, key_id: str) -> str | None:
            return None

    admin = import_quietly("admin.app")
    return AdminContext(
        store=_direct_store(),
        settings=admin.admin_context.settings,
        registry=_DistinctNames(_DirectTable(bench), admin.admin_context.registry.table),  # type: ignore[arg-type]
    )


def issue_clients(bench: Bench) -> None:
    """Issue ``cfg.clients`` clients in one tenant, three ways, each timed:

    1. the first ``admin_issue`` through the admin Lambda handler (API validation, Powertools
       resolver, audit log, one CreateSecret over HTTP to the emulator);
    2. the next ``service_issue`` through ``clients.issue`` with the real boto3 store (the same
       use case and the same CreateSecret, minus the HTTP adaptation of the admin API);
    3. the rest through ``clients.issue`` with a store that writes into the emulator's backend
       in-process: the same records and tags, without boto3 and HTTP, so that 10,000 clients do not
       dominate the benchmark's wall time. Its rate is not a tokengate figure.
    """
    from tokengate_core.admin import clients
    from tokengate_core.admin.api import IssueClientRequest

    cfg = bench.cfg
    result = bench.result("scale", TITLE)
    admin = import_quietly("admin.app")
    via_handler = min(cfg.admin_issue, cfg.clients)
    via_service = min(cfg.service_issue, cfg.clients - via_handler)
    bulk = bulk_context(bench)
    ctx = FakeContext()
    timings: dict[str, list[int]] = {"handler": [], "service": [], "bulk": []}
    say(
        f"  scale: issuing {cfg.clients:,} clients ({via_handler:,} via the admin handler, "
        f"{via_service:,} via clients.issue, the rest in bulk)"
    )
    with quiet():
        for i in range(cfg.clients):
            name = f"client-{i:05d}"
            start = time.perf_counter_ns()
            if i < via_handler:
                body = {"client_name": name, "scopes": SCOPES}
                response = admin.handler(admin_event("POST", f"/admin/tenants/{TENANT}/clients", body), ctx)
                timings["handler"].append(time.perf_counter_ns() - start)
                if response["statusCode"] != 201:
                    raise RuntimeError(f"issue failed: {response['statusCode']} {response.get('body')}")
                issued = json.loads(response["body"])
                bench.clients.append(Client(issued["client"]["client_id"], issued["token"]))
                continue
            phase = "service" if i < via_handler + via_service else "bulk"
            context = admin.admin_context if phase == "service" else bulk
            issued_model = clients.issue(
                context, TENANT, IssueClientRequest(client_name=name, scopes=SCOPES), ADMIN_ARN
            )
            timings[phase].append(time.perf_counter_ns() - start)
            bench.clients.append(Client(issued_model.client.client_id, issued_model.token))
            if (i + 1) % 2_000 == 0:
                say(f"    {i + 1:,} issued")
    labels = {
        "handler": "issue via admin handler (HTTP to emulator)",
        "service": "issue via clients.issue (HTTP to emulator)",
        "bulk": "bulk create, in-process emulator backend",
    }
    for key, samples in timings.items():
        if samples:
            stats = Stats.of_ns(samples)
            result.add(labels[key], f"{1e6 / stats.mean_us:,.0f} clients/s; {stats.text()}")
            result.data[f"issue_{key}"] = stats.__dict__
    total_s = sum(sum(v) for v in timings.values()) / 1e9
    result.notes.append(
        f"{cfg.clients:,} clients in tenant `{TENANT}` took {total_s:,.1f} s: {via_handler:,} through "
        f"`admin.app.handler` (payload 2.0 POST with an IAM caller), {via_service:,} through "
        f"`clients.issue` with the boto3 store, and the remaining {len(timings['bulk']):,} through "
        f"`clients.issue` with a store and a table that write into the in-process moto backend (same "
        f"records, tags, index items and feed entries, no boto3/HTTP). One client is a name claim, a "
        f"CreateSecret, its index item (a consistent read of its version, a conditional PutItem) and a feed "
        f"entry (an UpdateItem of the counter, a PutItem); on loopback the rate is bounded by the "
        f"emulator sharing this process's GIL. In AWS, issuing is bounded by Secrets Manager's control-plane "
        f"quotas (tens of calls per second, e.g. 50/s for PutSecretValue and for TagResource), so a bulk "
        f"import of 10,000 clients takes minutes there too."
    )
    baseline.create_secret([c.token for c in bench.clients[:10]])


def run(bench: Bench) -> None:
    cfg = bench.cfg
    result = bench.result("scale", TITLE)
    _paging(bench, result)
    _memory(bench, result)
    _flat(bench, result)
    _ = cfg


def _paging(bench: Bench, result: Any) -> None:
    admin = import_quietly("admin.app")
    ctx = FakeContext()
    page_ns: list[int] = []
    items = 0
    token: str | None = None
    say(f"  scale: paging the list of {len(bench.clients):,} clients (limit 100)")
    start = time.perf_counter()
    with quiet():
        while True:
            query = {"limit": "100"}
            if token:
                query["next_token"] = token
            t0 = time.perf_counter_ns()
            response = admin.handler(admin_event("GET", f"/admin/tenants/{TENANT}/clients", query=query), ctx)
            page_ns.append(time.perf_counter_ns() - t0)
            if response["statusCode"] != 200:
                raise RuntimeError(f"list failed: {response['statusCode']}")
            body = json.loads(response["body"])
            items += len(body["items"])
            token = body.get("next_token")
            if not token or len(page_ns) > 10 * len(bench.clients):
                break
    total = time.perf_counter() - start
    pages = Stats.of_ns(page_ns)
    result.add(
        "list all via admin API (limit 100)",
        f"{total:,.1f} s for {items:,} clients in {len(page_ns)} pages; per page {pages.text()}",
        f"all {len(bench.clients):,} listed",
        items == len(bench.clients),
    )
    result.data.update(list_total_s=total, list_pages=len(page_ns), list_items=items, list_page=pages.__dict__)
    result.notes.append(
        f"Paging: each page is one ListSecrets call with name and tag filters; the emulator (moto) scans every "
        f"secret for every page, so a page costs {fmt_us(pages.median_us)} here at {len(bench.clients):,} "
        f"secrets. AWS serves ListSecrets from an index (quota: 100 requests/s per account and region), so "
        f"this figure says more about moto than about Secrets Manager."
    )


def index_items(bench: Bench) -> ItemTable:
    """Every issued client's index item as the emulator's table holds it (read in-process), and the
    keyring, in memory: what a container's lookups would read, without the loopback round trips."""
    from tokengate_core.deployment.config import AuthorizerSettings
    from tokengate_core.records.index import index_key

    table = AuthorizerSettings().table_name
    direct = _DirectTable(bench)
    items = ItemTable(table)
    for c in bench.clients:
        item = direct.get_item(TableName=table, Key=index_key(c.key_id)).get("Item")
        if item is None:
            raise RuntimeError("an issued client has no index item")
        items.put(item)
    return items


def keyring_text() -> str:
    """The deployment's keyring as the emulator holds it (one read)."""
    from tokengate_core.deployment.config import AuthorizerSettings
    from tokengate_core.runtime.aws import make_reader
    from tokengate_core.tokens import keyring

    settings = AuthorizerSettings()
    text, _ = make_reader(settings).read_named(keyring.secret_name(settings.secret_prefix))
    return text


def _keyring_reader() -> Any:
    """The authorizer's Secrets Manager reader over a copy of the keyring."""
    from tokengate_core.deployment.config import AuthorizerSettings
    from tokengate_core.records.secret_reader import SecretsReader
    from tokengate_core.tokens import keyring

    prefix = AuthorizerSettings().secret_prefix
    return SecretsReader(KeyringSecrets(keyring.secret_name(prefix), keyring_text()), prefix)  # type: ignore[arg-type]


def _memory(bench: Bench, result: Any) -> None:
    """tracemalloc growth of a fresh authorizer while all clients are cached through ``decide``.

    Its lookups read the clients' index items from memory (copied from the emulator's table
    beforehand), so the measured process allocates only what the authorizer keeps, not the
    emulator's (in-process) request handling."""
    from tokengate_core.authorize.decision import TokenAuthorizer
    from tokengate_core.deployment.config import AuthorizerSettings

    items = bench.extra.get("index_items") or index_items(bench)
    bench.extra["index_items"] = items
    reader = _keyring_reader()
    settings = AuthorizerSettings(cache_ttl_seconds=3600)
    headers = [c.header for c in bench.clients]
    say(f"  scale: memory of {len(headers):,} cached entries (tracemalloc)")
    gc.collect()
    tracemalloc.start()
    before, _ = tracemalloc.get_traced_memory()
    authz = TokenAuthorizer(
        settings,
        store_factory=lambda: reader,
        dynamodb_factory=lambda: items,  # type: ignore[arg-type, return-value]
        last_used_factory=lambda: items,
    )
    with quiet():
        allowed = sum(authz.decide(h, "GET", "ANY /invoke", "/dev/invoke").allowed for h in headers)
    gc.collect()
    after, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    growth_mb = (after - before) / 1e6
    per_entry = (after - before) / max(1, len(authz.cache))
    result.add(
        f"authorizer memory, {len(authz.cache):,} entries cached",
        f"{growth_mb:,.1f} MB growth ({per_entry:,.0f} B/entry, last use included; peak "
        f"{(peak - before) / 1e6:,.1f} MB); allowed {allowed:,}",
        "< 25 MB",
        growth_mb < 25,
    )
    result.data.update(memory_mb=growth_mb, memory_per_entry=per_entry, memory_entries=len(authz.cache))
    del authz


def _flat(bench: Bench, result: Any) -> None:
    from tokengate_core.authorize.decision import TokenAuthorizer

    cfg = bench.cfg
    app = import_quietly("authorizer.app")
    items = bench.extra.get("index_items") or index_items(bench)
    bench.extra["index_items"] = items
    reader = _keyring_reader()
    module_authorizer = app.authorizer
    # The handler decides with the module's `authorizer`: this one reads the index, the feed and
    # the keyring from memory and writes last use there, so a pass over 10,000 clients costs no
    # 10,000 loopback writes and the figure is the decision's own cost.
    app.authorizer = TokenAuthorizer(
        app.settings,
        store_factory=lambda: reader,
        dynamodb_factory=lambda: items,  # type: ignore[arg-type, return-value]
        last_used_factory=lambda: items,
    )
    small = [authorizer_event(c.header) for c in bench.clients[:10]]
    every = [authorizer_event(c.header) for c in bench.clients]
    m = len(every)
    samples: dict[str, list[int]] = {}
    try:
        with quiet():
            for e in small:  # one unmeasured pass: each client cached, its last use written
                app.handler(e, None)
            say(f"  scale: warm cost over 10 cached clients ({len(app.authorizer.cache):,} entries)")
            samples["10"] = []
            for _ in range(cfg.rounds):
                samples["10"] += time_calls(lambda i: app.handler(small[i % 10], None), cfg.warm_requests)
            for e in every:
                app.handler(e, None)
            say(f"  scale: warm cost over {m:,} cached clients ({len(app.authorizer.cache):,} entries)")
            samples["all"] = []
            for _ in range(cfg.rounds):
                samples["all"] += time_calls(lambda i: app.handler(every[i % m], None), cfg.warm_requests)
            hits = sum(app.decide(e)[0].cache == "hit" for e in every[:1000])
    finally:
        app.authorizer = module_authorizer
    s10 = Stats.of_ns(samples["10"])
    sall = Stats.of_ns(samples["all"])
    ratio = sall.median_us / s10.median_us
    result.add("warm handler, 10 clients cached", s10.text())
    result.add(f"warm handler, {m:,} clients cached", sall.text(), f"cache hits {hits}/1000")
    result.add(f"{m:,} / 10 clients (median)", f"{ratio:.2f}x", "flat (<= 1.20x)", ratio <= 1.2)
    result.data.update(flat_10=s10.__dict__, flat_all=sall.__dict__, flat_ratio=ratio)
    result.notes.append(
        f"Warm cost at scale: the authorizer handler, cycling over 10 cached clients and then over all {m:,}, "
        "after one unmeasured pass that cached each client and wrote its last use; its authorizer reads the "
        "index, the feed and the keyring from an in-memory copy of the emulator's items (`bench/tables.py`), "
        "so a feed read once a second costs a dict lookup rather than a loopback call. A hit is a dict "
        f"lookup, so the cost is flat; what grows with {m:,} distinct events is only the CPU cache footprint "
        "of the benchmark's own event dicts."
    )

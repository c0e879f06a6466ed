"""The AWS clients, created once per container: short timeouts and bounded retries for reads and
writes, one unhurried attempt for the control-plane calls.

Clients come from a botocore session, not boto3: boto3 adds nothing tokengate uses and costs the
authorizer's cold start its import. The endpoint comes from botocore's standard
``AWS_ENDPOINT_URL_SECRETS_MANAGER``, ``AWS_ENDPOINT_URL_DYNAMODB`` and
``AWS_ENDPOINT_URL_EVENTBRIDGE`` variables, so the same code talks to AWS or to the local stack's
emulator with no local-only branch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Protocol, cast, get_args

from tokengate_core.records.secret_reader import SecretsReader
from tokengate_core.runtime.observability import keep_bodies_out_of_sdk_logs

if TYPE_CHECKING:
    from collections import Counter
    from collections.abc import Callable

    from botocore.session import Session
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_secretsmanager import SecretsManagerClient

    from tokengate_core.authorize.settings import AuthorizerSettings
    from tokengate_core.authorize.usage_table import DynamoUsage
    from tokengate_core.deployment.config import AdminSettings, LeakSettings, RotationSettings, SweepSettings
    from tokengate_core.lifecycle.alerts import AlertMemory
    from tokengate_core.lifecycle.events import EventBridgePublisher
    from tokengate_core.lifecycle.reconcile import Reconciler
    from tokengate_core.records.github_keys import SharedKeyList
    from tokengate_core.records.guardrails import GuardrailStore
    from tokengate_core.records.index import ClientIndex
    from tokengate_core.records.names import NameRegistry
    from tokengate_core.records.store import SecretsStore


class ClientSettings(Protocol):
    """What building a store needs: the authorizer's hand-validated settings and the other
    functions' pydantic ones both have it."""

    @property
    def secret_prefix(self) -> str: ...
    @property
    def sm_connect_timeout_seconds(self) -> float: ...
    @property
    def sm_read_timeout_seconds(self) -> float: ...
    @property
    def sm_max_attempts(self) -> int: ...


#: RotateSecret, CancelRotateSecret and DeleteSecret (store.CONTROL_PLANE_OPERATIONS) are never
#: retried: a call that timed out may have been applied, and a second RotateSecret then finds the
#: first one's AWSPENDING version and fails as "rotation in progress", which the admin API would
#: answer by undoing a client that was fine.
CONTROL_PLANE_MAX_ATTEMPTS = 1


#: The services tokengate's functions call; botocore_data loads their models without a scan.
Service = Literal["dynamodb", "events", "secretsmanager"]
SERVICES: tuple[Service, ...] = get_args(Service)


def _client(session: Session, service: Service, settings: ClientSettings, read_timeout: float, attempts: int) -> Any:
    from botocore.config import Config

    keep_bodies_out_of_sdk_logs()
    config = Config(
        connect_timeout=settings.sm_connect_timeout_seconds,
        read_timeout=read_timeout,
        # total_max_attempts counts the first call; botocore's max_attempts would count retries only.
        retries={"total_max_attempts": attempts, "mode": "standard"},
    )
    return session.create_client(service, config=config)


def _session(*, derived: bool = False) -> Session:
    # deferred: a container that never misses the cache never pays for botocore
    from tokengate_core.runtime.botocore_data import shared_loader
    from tokengate_core.runtime.botocore_handlers import session_for_tokengate

    session = session_for_tokengate()
    session.register_component("data_loader", shared_loader(session.get_config_variable("data_path"), derived))
    return session


def new_session() -> Session:
    """A botocore session for a function that builds more than one client on a cold start (the
    authorizer: Secrets Manager for its keyring, DynamoDB for the index and the feed), so that it
    sets one session up (registering botocore's handlers) instead of one per client. A session is
    not thread-safe: one per container, used by one request at a time. Its clients read the
    botocore data the asset derives for them (botocore_data.DERIVED_DIR), where it has it."""
    return _session(derived=True)


def secretsmanager_client(settings: ClientSettings, session: Session | None = None) -> SecretsManagerClient:
    """Reads and writes: a short read timeout and ``sm_max_attempts`` attempts."""
    client = _client(
        session or _session(), "secretsmanager", settings, settings.sm_read_timeout_seconds, settings.sm_max_attempts
    )
    return cast("SecretsManagerClient", client)


def control_plane_client(settings: AdminSettings, session: Session | None = None) -> SecretsManagerClient:
    """RotateSecret, CancelRotateSecret, DeleteSecret: their own read timeout, one attempt."""
    client = _client(
        session or _session(),
        "secretsmanager",
        settings,
        settings.sm_control_read_timeout_seconds,
        CONTROL_PLANE_MAX_ATTEMPTS,
    )
    return cast("SecretsManagerClient", client)


def make_reader(settings: ClientSettings, session: Session | None = None) -> SecretsReader:
    """The authorizer's Secrets Manager reads (its keyring): one client, and none of the store's
    writes on its cold path."""
    return SecretsReader(secretsmanager_client(settings, session), settings.secret_prefix)


def make_store(settings: ClientSettings, kms_key_id: str | None = None) -> SecretsStore:
    """The store for a function; only settings with a control-plane timeout (the admin function's,
    the one that makes control-plane calls) get the second client, and need no settings model
    beyond their own."""
    from tokengate_core.records.store import SecretsStore

    session = _session()
    control = None
    if getattr(settings, "sm_control_read_timeout_seconds", None) is not None:
        control = control_plane_client(cast("AdminSettings", settings), session)
    return SecretsStore(
        secretsmanager_client(settings, session), settings.secret_prefix, kms_key_id, control_client=control
    )


def make_usage_backend(settings: AuthorizerSettings, session: Session | None = None) -> DynamoUsage:
    """The usage counters and last use: a short timeout and one attempt, since a decision waits
    for it. The authorizer passes its one session (see new_session)."""
    from tokengate_core.authorize.usage_table import DynamoUsage

    client = _client(session or _session(), "dynamodb", settings, settings.usage_timeout_seconds, 1)
    return DynamoUsage(cast("DynamoDBClient", client), settings.table_name)


def index_client(settings: AuthorizerSettings, session: Session | None = None) -> DynamoDBClient:
    """The authorizer's digest index and change feed reads: one attempt, a short timeout, since a
    decision waits for them (a failure is a stale-if-error answer or a denial, never a retry)."""
    client = _client(session or _session(), "dynamodb", settings, settings.index_timeout_seconds, 1)
    return cast("DynamoDBClient", client)


def make_usage_query(settings: AdminSettings) -> Callable[[str, str, str], dict[str, Counter[str]]]:
    """What the admin API reads usage from: the counters the authorizer writes."""
    from tokengate_core.authorize.usage_table import read_usage

    client = cast("DynamoDBClient", _client(_session(), "dynamodb", settings, settings.sm_read_timeout_seconds, 2))
    return lambda key_id, start, end: read_usage(client, settings.table_name, key_id, start, end)


def make_last_used_query(settings: AdminSettings | SweepSettings) -> Callable[[list[str]], dict[str, float]]:
    """What the admin API reads clients' last use from: the items the authorizer writes."""
    from tokengate_core.authorize.usage_table import read_last_used

    client = cast("DynamoDBClient", _client(_session(), "dynamodb", settings, settings.sm_read_timeout_seconds, 2))
    return lambda key_ids: read_last_used(client, settings.table_name, key_ids)


def _table_client(settings: ClientSettings) -> DynamoDBClient:
    """A DynamoDB client for the deployment's table, with the function's read timeout and attempts."""
    client = _client(_session(), "dynamodb", settings, settings.sm_read_timeout_seconds, settings.sm_max_attempts)
    return cast("DynamoDBClient", client)


def make_shared_key_list(settings: LeakSettings) -> SharedKeyList:
    """The deployment's copy of GitHub's key list, in its DynamoDB table."""
    from tokengate_core.records.github_keys import SharedKeyList

    return SharedKeyList(_table_client(settings), settings.table_name)


def make_alert_memory(settings: LeakSettings) -> AlertMemory:
    """The GitHub alerts already answered, in the deployment's table."""
    from tokengate_core.lifecycle.alerts import AlertMemory

    return AlertMemory(_table_client(settings), settings.table_name)


def make_client_index(settings: RotationSettings) -> ClientIndex:
    """The digest index and change feed, for the rotation function's writes."""
    from tokengate_core.records.index import ClientIndex

    return ClientIndex(_table_client(settings), settings.table_name)


def make_guardrails(settings: AdminSettings) -> GuardrailStore:
    """The tenants' guardrails in the deployment's DynamoDB table."""
    from tokengate_core.records.guardrails import GuardrailStore

    return GuardrailStore(_table_client(settings), settings.table_name)


def make_registry(settings: AdminSettings) -> NameRegistry:
    """The client-name claims in the deployment's DynamoDB table."""
    from tokengate_core.records.names import NameRegistry

    return NameRegistry(_table_client(settings), settings.table_name)


#: EventBridge answers PutEvents in milliseconds; a call that takes longer is retried by the
#: publisher (lifecycle.MAX_ATTEMPTS), so each attempt gets little time: a change waits for its
#: events at most a few seconds even while EventBridge is unreachable.
EVENTS_READ_TIMEOUT_SECONDS = 1.0


class EventClientSettings(ClientSettings, Protocol):
    @property
    def event_bus_name(self) -> str: ...
    @property
    def metrics_namespace(self) -> str: ...


def events_client(settings: ClientSettings, session: Session | None = None) -> EventBridgeClient:
    """PutEvents: one attempt per call, the publisher retries (failed calls and failed entries alike)."""
    client = _client(session or _session(), "events", settings, EVENTS_READ_TIMEOUT_SECONDS, 1)
    return cast("EventBridgeClient", client)


def make_publisher(settings: EventClientSettings, service: str) -> EventBridgePublisher:
    """The function's lifecycle event publisher: its bus, its failure metric; the client is built
    on the first event."""
    from tokengate_core.lifecycle.events import EventBridgePublisher, event_failure_reporter

    return EventBridgePublisher(
        lambda: events_client(settings),
        settings.event_bus_name,
        event_failure_reporter(service, settings.metrics_namespace),
    )


def make_reconciler(settings: SweepSettings) -> Reconciler:
    """The reconciliation of the digest index (the sweep function's second schedule): the data
    plane's timeouts and retries, for a run that is never on a request path."""
    from tokengate_core.lifecycle.reconcile import Reconciler

    return Reconciler(make_store(settings), _table_client(settings), settings.table_name)

"""The function table: each Lambda function's handler, settings class, memory, timeout and the
lifecycle events it may publish. The CDK stack deploys exactly these, the local stack runs
exactly these, and each handler reads its own entry (its service name, its timeout).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, NamedTuple, Protocol

from tokengate_core.deployment.authorizer_facts import AUTHORIZER_SERVICE
from tokengate_core.lifecycle.detail_types import DetailType

FunctionName = Literal["authorizer", "main", "admin", "rotation", "delivery", "sweep", "leaks"]


class EnvSettings(Protocol):
    """A function's settings class: pydantic models, and the authorizer's hand-validated one."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Any: ...
    @classmethod
    def env_names(cls) -> list[str]: ...
    def to_env(self) -> dict[str, str]: ...


class FunctionSpec(NamedTuple):
    name: FunctionName
    handler: str  # module.attribute, relative to the services/ asset root
    #: The settings class's name in tokengate_core.deployment.config: resolved when asked for, so that this
    #: table, which every handler imports at cold start, does not import pydantic's models.
    settings_class: str
    service: str  # POWERTOOLS_SERVICE_NAME
    description: str
    memory_mb: int  # memory also buys CPU; cold starts (imports, model builds) are CPU-bound
    timeout_seconds: int
    #: The lifecycle events it publishes: its role may put exactly these on the deployment's bus.
    emits: frozenset[DetailType] = frozenset()
    #: Lambda sends it SIGTERM before ending an environment (the stack registers the shutdown
    #: extension for it, the local stack calls its handler module's SIGTERM hook): it holds work
    #: in memory that must be written (tokengate_core.runtime.shutdown).
    graceful_shutdown: bool = False

    @property
    def settings(self) -> type[EnvSettings]:
        from tokengate_core.deployment import config

        settings: type[EnvSettings] = getattr(config, self.settings_class)
        return settings

    @property
    def traced(self) -> bool:
        """X-Ray active tracing, and Powertools Tracer in the handler: the admin and rotation
        functions, whose Secrets Manager calls (RotateSecret above all) are worth a trace and
        whose volume is small. Not the authorizer and main, on every request's path, where
        Tracer's import and patching would lengthen each cold start and sampling bill per request."""
        from tokengate_core.deployment.config import TracerSettings

        return issubclass(self.settings, TracerSettings)


FUNCTIONS: dict[FunctionName, FunctionSpec] = {
    # On every uncached request's path: 512 MB keeps the cold start short. Its Secrets Manager calls
    # give up after 2 x 1 s and it then denies, so 5 s is ample (API Gateway allows authorizers 10 s).
    "authorizer": FunctionSpec(
        "authorizer",
        "authorizer.app.handler",
        "AuthorizerSettings",
        AUTHORIZER_SERVICE,
        "Lambda authorizer: checks per-client bearer tokens",
        memory_mb=512,
        timeout_seconds=5,
        emits=frozenset({DetailType.QUOTA_THRESHOLD}),
        graceful_shutdown=True,
    ),
    # Returns a small JSON body built from the authorizer's context: no I/O at all.
    "main": FunctionSpec(
        "main",
        "main.app.handler",
        "MainSettings",
        "tokengate-main",
        "Protected integration behind the authorizer",
        memory_mb=256,
        timeout_seconds=5,
    ),
    # Validation and the OpenAPI models are the heaviest imports; a write makes a handful of calls at
    # 5 s read timeout, and a control-plane call (10 s) may need its undo (10 s more). 25 s stays
    # under the HTTP API's 30 s integration limit, so a slow call ends as the function's own
    # (logged) error rather than a bare 503 from API Gateway.
    "admin": FunctionSpec(
        "admin",
        "admin.app.handler",
        "AdminSettings",
        "tokengate-admin",
        "Admin API: issue, list, revoke, rotate tokens",
        memory_mb=512,
        timeout_seconds=25,
        emits=frozenset(
            {
                DetailType.ISSUED,
                DetailType.UPDATED,
                DetailType.ROTATED,
                DetailType.REVOKED,
                DetailType.RESTORED,
                DetailType.LEAKED,
            }
        ),
    ),
    # Secrets Manager invokes one step per call, each one or two Secrets Manager calls.
    "rotation": FunctionSpec(
        "rotation",
        "rotation.app.handler",
        "RotationSettings",
        "tokengate-rotation",
        "Secrets Manager rotation function for client tokens",
        memory_mb=256,
        timeout_seconds=60,
        emits=frozenset({DetailType.ROTATED}),
    ),
    # One GetSecretValue per call; a client calls it a few times per rotation.
    "delivery": FunctionSpec(
        "delivery",
        "delivery.app.handler",
        "DeliverySettings",
        "tokengate-delivery",
        "Hands a client its current token when it presents a still-valid one",
        memory_mb=256,
        timeout_seconds=10,
    ),
    # Once a day by default: pages of ListSecrets, then the records of clients changed within the
    # longest grace window, eight at a time; minutes leave room for many thousands of clients.
    "sweep": FunctionSpec(
        "sweep",
        "sweep.app.handler",
        "SweepSettings",
        "tokengate-sweep",
        "Daily sweep: reports expiring clients and ending grace windows, prunes imported tokens",
        memory_mb=256,
        timeout_seconds=300,
        emits=frozenset({DetailType.EXPIRING, DetailType.STALE, DetailType.UPDATED}),
    ),
    # GitHub's secret scanning alerts: a signature check, then a few Secrets Manager calls per
    # leaked client of ours, ten at a time. It stops starting work 5 s before its timeout, which
    # stays under API Gateway's 30 s integration limit so the answer always goes out.
    "leaks": FunctionSpec(
        "leaks",
        "leaks.app.handler",
        "LeakSettings",
        "tokengate-leaks",
        "GitHub secret scanning partner endpoint: revokes leaked tokens",
        memory_mb=512,
        timeout_seconds=28,
        emits=frozenset({DetailType.LEAKED, DetailType.REVOKED, DetailType.UPDATED}),
    ),
}

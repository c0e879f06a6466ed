"""The admin API's bodies: one set of models for validation, responses and the OpenAPI document."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tokengate_core.authorize.last_used import INTERVAL_SECONDS as LAST_USED_INTERVAL
from tokengate_core.records.model import (
    AllowedCidrs,
    GraceSeconds,
    NewClientName,
    Quota,
    RateLimit,
    ReaderArn,
    RotationDays,
    Scopes,
    Tenant,
    Timestamp,
)
from tokengate_core.records.rules import OnLimit
from tokengate_core.tokens.format import IMPORTED_PATTERN

#: The most tokens one operator report (POST /admin/leaks) carries: its body stays under the admin
#: API's body limit; the CLI sends a longer list in parts.
MAX_REPORTED_TOKENS = 100

Status = Literal["active", "disabled", "expired", "revoked"]
TOKEN_FETCH_DESCRIPTION = (
    "Let the client fetch its current token at GET /token with a still-valid token (the current one,"
    " or the previous one during its grace window): how a rotated token reaches a client that has no"
    " IAM identity. Whoever holds the previous token during grace can fetch the new one, so"
    " rotation is hygiene and revocation is the answer to a leak."
)


RATE_LIMIT_DESCRIPTION = (
    "Token bucket: requests_per_second refill, burst at once; enforced by the authorizer across all its"
    " containers (see docs/architecture.md for the accuracy bound)"
)
QUOTA_DESCRIPTION = "At most limit allowed requests per calendar day or month (UTC); resets at the period's start"
CIDRS_DESCRIPTION = "Networks the client may call from (requestContext.http.sourceIp); absent or null: anywhere"
ON_LIMIT_DESCRIPTION = (
    "deny: a limited request is refused with 403 by the stage and never reaches the integration;"
    " tell_integration: it reaches the integration with usage_limited and retry_after in the"
    " authorizer context, so the integration can answer 429 with Retry-After (an IP outside"
    " allowed_cidrs is always refused)"
)


class _Withheld:
    def __repr__(self) -> str:
        return "<withheld>"


_WITHHELD = _Withheld()


class _Body(BaseModel):
    """A request body. Its repr (and str) names the fields given, never their values: Powertools
    logs each route's arguments at DEBUG (``POWERTOOLS_DEBUG``), and a body may carry tokens (a
    leak report, an imported token, a reporter's URL)."""

    model_config = ConfigDict(extra="forbid")

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name in sorted(self.model_fields_set):
            yield name, _WITHHELD


class IssueClientRequest(_Body):
    client_name: NewClientName
    scopes: Scopes = Field(default_factory=lambda: ["*"])
    expires_at: Timestamp | None = Field(default=None, description="Absolute expiry (ISO 8601 with zone)")
    ttl_seconds: Annotated[int | None, Field(ge=60, le=10 * 366 * 86400)] = Field(
        default=None, description="Expiry relative to now; excludes expires_at"
    )
    rotation_period_days: RotationDays | None = None
    grace_seconds: GraceSeconds | None = Field(default=None, description="How long a rotated-out token stays valid")
    reader_arn: ReaderArn | None = Field(
        default=None,
        description="IAM principal allowed to read this client's own secret (picks up rotations)",
    )
    token_fetch: bool = Field(default=False, description=TOKEN_FETCH_DESCRIPTION)
    rate_limit: RateLimit | None = Field(default=None, description=RATE_LIMIT_DESCRIPTION)
    quota: Quota | None = Field(default=None, description=QUOTA_DESCRIPTION)
    allowed_cidrs: AllowedCidrs | None = Field(default=None, description=CIDRS_DESCRIPTION)
    on_limit: OnLimit = Field(default="deny", description=ON_LIMIT_DESCRIPTION)

    @model_validator(mode="after")
    def _one_expiry(self) -> IssueClientRequest:
        if self.expires_at is not None and self.ttl_seconds is not None:
            raise ValueError("give expires_at or ttl_seconds, not both")
        return self


class ImportClientRequest(IssueClientRequest):
    """A client whose current token is one its callers already hold (see tokengate_core.tokens.imports).

    Deployment-wide (the keyring maps every imported token), so the tenant is in the body."""

    tenant: Tenant
    token: str = Field(
        pattern=f"^{IMPORTED_PATTERN}$",
        repr=False,
        description="The token to take over: visible ASCII, 8-512 characters. Only its SHA-256 is kept.",
    )
    allow_weak: bool = Field(
        default=False, description="Import a short or low-entropy token anyway (the answer warns about it)"
    )

    @model_validator(mode="after")
    def _no_reader(self) -> ImportClientRequest:
        if self.reader_arn is not None:
            raise ValueError("an imported client has no token of ours for a reader to read: give no reader_arn")
        return self


class UpdateClientRequest(_Body):
    """Only the fields present change; ``expires_at: null`` or ``rotation_period_days: null`` clears."""

    enabled: bool | None = None
    scopes: Scopes | None = None
    expires_at: Timestamp | None = Field(default=None, description="Absolute expiry (ISO 8601 with zone); null clears")
    rotation_period_days: RotationDays | None = None
    grace_seconds: GraceSeconds | None = None
    token_fetch: bool | None = Field(default=None, description=TOKEN_FETCH_DESCRIPTION)
    rate_limit: RateLimit | None = Field(default=None, description=f"{RATE_LIMIT_DESCRIPTION}; null clears")
    quota: Quota | None = Field(default=None, description=f"{QUOTA_DESCRIPTION}; null clears")
    allowed_cidrs: AllowedCidrs | None = Field(default=None, description=f"{CIDRS_DESCRIPTION}; null clears")
    on_limit: OnLimit | None = Field(default=None, description=ON_LIMIT_DESCRIPTION)

    @model_validator(mode="after")
    def _something(self) -> UpdateClientRequest:
        if not self.model_fields_set:
            raise ValueError("nothing to update")
        for name in ("enabled", "scopes", "grace_seconds", "token_fetch", "on_limit"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class RotationView(BaseModel):
    period_days: int | None
    grace_seconds: int
    next_rotation_at: datetime | None = None
    previous_token_valid_until: datetime | None = None


class ClientView(BaseModel):
    """A client as the admin API shows it: never the token."""

    client_id: str
    tenant: str
    client_name: str
    status: Status
    enabled: bool
    scopes: list[str] | None = Field(description="Absent for a revoked client (its value is not readable)")
    expires_at: datetime | None
    created_at: datetime | None
    created_by: str | None
    updated_at: datetime | None = None
    updated_by: str | None = None
    rotated_at: datetime | None = None
    rotation: RotationView | None = None
    reader_arn: str | None = None
    token_fetch: bool | None = None
    rate_limit: RateLimit | None = None
    quota: Quota | None = None
    allowed_cidrs: list[str] | None = None
    on_limit: OnLimit | None = None
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    imported: bool | None = Field(
        default=None, description="The current token is an imported one (until the client's first rotation)"
    )
    last_used_at: datetime | None = Field(
        default=None,
        description=(
            "When a request last presented this client's token (it matched, whatever the decision);"
            f" up to {LAST_USED_INTERVAL / 3600:g} h earlier than the true last use; null: never used"
        ),
    )


class IssuedClient(BaseModel):
    client: ClientView
    token: str = Field(description="Shown once: store it now; tokengate cannot show it again")
    notice: str = "This token is shown once. Store it securely; it cannot be retrieved again from this API."


class LeakReportRequest(_Body):
    """Tokens found leaked outside GitHub's secret scanning (a paste site, a log, a laptop)."""

    tokens: list[Annotated[str, Field(min_length=1, max_length=1024)]] = Field(
        min_length=1,
        max_length=MAX_REPORTED_TOKENS,
        description="The leaked tokens (any that are not this deployment's are ignored)",
    )
    url: Annotated[str, Field(max_length=2048)] = Field(default="", description="Where they were found")
    source: Annotated[str, Field(max_length=128)] = Field(default="manual", description="What kind of place")


class LeakResult(BaseModel):
    """What a reported token turned out to be, in the order reported (never the token itself)."""

    label: Literal["true_positive", "false_positive"]
    state: str = Field(description="not_ours, gone, already_revoked, inactive, revoked, disabled or already_disabled")
    client_id: str | None = None
    tenant: str | None = None


class LeakReportResult(BaseModel):
    results: list[LeakResult]


class ImportedClient(BaseModel):
    client: ClientView
    warnings: list[str] = Field(default_factory=list, description="Why the imported token is weak, if it is")
    notice: str = Field(description="When authorizers start accepting the imported token")


class ClientPage(BaseModel):
    items: list[ClientView]
    next_token: str | None = None


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[dict[str, object]] | None = None


#: Shown in a 422's ``loc`` in place of a key the API does not declare: the key is the caller's input.
UNDECLARED_KEY = "(undeclared)"
#: Shown in place of a message that would quote the caller's input.
INVALID_VALUE = "invalid value"
#: Input strings shorter than this are not looked for in a message: "id" would match any text.
_QUOTABLE_CHARS = 3


def declared_names(document: Mapping[str, Any]) -> frozenset[str]:
    """Every field and parameter name an OpenAPI document declares: what a ``loc`` may show."""
    names: set[str] = set()
    pending: list[Any] = [document]
    while pending:
        node = pending.pop()
        if isinstance(node, Mapping):
            properties = node.get("properties")
            if isinstance(properties, Mapping):
                names.update(str(key) for key in properties)
            if node.get("in") in ("query", "path", "header") and isinstance(node.get("name"), str):
                names.add(node["name"])
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return frozenset(names | {"body", "query", "path", "header"})


def _strings(value: Any) -> Iterable[str]:
    """The strings anywhere in a JSON value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def validation_details(errors: Iterable[Mapping[str, Any]], declared: frozenset[str]) -> list[dict[str, object]]:
    """Where and why a request failed validation, never what it held: a ``loc`` keeps list
    positions and the names the API declares (a key the caller made up shows as
    :data:`UNDECLARED_KEY`), and a message that would quote the input (anything a validator
    wrote) gives way to :data:`INVALID_VALUE`. ``input`` and ``ctx`` are never shown."""
    details: list[dict[str, object]] = []
    for error in errors:
        loc = [part if isinstance(part, int) or part in declared else UNDECLARED_KEY for part in error.get("loc", ())]
        message = str(error.get("msg", ""))
        quoted = (s for s in _strings(error.get("input")) if len(s) >= _QUOTABLE_CHARS)
        if any(s in message for s in quoted):
            message = INVALID_VALUE
        details.append({"loc": loc, "msg": message, "type": str(error.get("type", ""))})
    return details


class SigningKeyView(BaseModel):
    """A signing key as an operator sees it: never its value."""

    name: str
    added_at: datetime | None = Field(description="Absent for the key the stack created")
    signing: bool = Field(description="Whether new tokens are tagged with this key")


class KeyRingView(BaseModel):
    keys: list[SigningKeyView]
    legacy_key_ids: int = Field(description="Clients whose tokens predate tags and are still accepted")


class MigrationReport(BaseModel):
    clients: int = Field(description="Clients examined, revoked ones included")
    names_claimed: int = Field(description="Client names newly recorded as taken")
    legacy_key_ids: int = Field(description="Clients whose untagged tokens stay accepted until they rotate")
    conflicts: list[str] = Field(description="Clients whose name another client already holds")
    index_built: int = Field(description="Clients written into the digest index (missing, or out of step)")
    index_revoked: int = Field(description="Clients the digest index allowed although their secret is revoked")
    index_complete: bool = Field(
        description="Every client's index item checked; if not, the scheduled reconciliation builds the rest"
    )


class UsageBucket(BaseModel):
    start: datetime
    allowed: int
    denied: dict[str, int] = Field(description="Denied requests by reason")


class UsageReport(BaseModel):
    client_id: str
    granularity: Literal["hour", "day"]
    buckets: list[UsageBucket] = Field(description="Periods with any traffic, oldest first")
    notice: str = (
        "Counted by the authorizer for clients with a usage policy, flushed every few seconds per container;"
        " the newest bucket may still grow."
    )

"""The client record: the SecretString JSON of one client's secret, validated on every read.

The plaintext token lives here (so an AWS-native client can read its own secret after a
rotation) but as a :class:`pydantic.SecretStr`, so a stray ``repr`` or log line shows stars.
A client imported with a token from elsewhere holds only that token's SHA-256
(``imported_sha256``) and no token of its own until its first rotation.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from tokengate_core.records import rules
from tokengate_core.records.rules import (
    CLIENT_NAME_PATTERN,
    DEFAULT_QUOTA_THRESHOLDS,
    DIGEST_PATTERN,
    MAX_BURST,
    MAX_CIDR_CHARS,
    MAX_CIDRS,
    MAX_GRACE_SECONDS,
    MAX_QUOTA,
    MAX_RATE_PER_SECOND,
    MAX_ROTATION_DAYS,
    MAX_SCOPES,
    MIN_RATE_PER_SECOND,
    MIN_ROTATION_DAYS,
    RATE_DECIMALS,
    READER_ARN_PATTERN,
    SCHEMA_VERSION,
    SCOPE_PATTERN,
    SECRET_SHAPED_NAME,
    TENANT_PATTERN,
    OnLimit,
    QuotaPeriod,
    check_thresholds,
    is_new_client_name,
    parse_network,
    within_rate_precision,
)
from tokengate_core.tokens import format as tokens

# CLIENT_NAME_PATTERN: also read from here by the CLI's name lookup.
__all__ = ["CLIENT_NAME_PATTERN", "ClientRecord"]

Tenant = Annotated[str, Field(pattern=TENANT_PATTERN, description="Tenant id: lowercase, digits, '-'")]
ClientName = Annotated[str, Field(pattern=CLIENT_NAME_PATTERN, description="Unique within the tenant")]


def _new_client_name(name: str) -> str:
    if not is_new_client_name(name):
        raise ValueError(SECRET_SHAPED_NAME)
    return name


#: A new client's name (records.rules.is_new_client_name); a stored record's is a ClientName.
NewClientName = Annotated[
    str,
    Field(
        pattern=CLIENT_NAME_PATTERN,
        description="Unique within the tenant; nothing in it shaped like a token or a SHA-256 digest",
    ),
    AfterValidator(_new_client_name),
]
Scope = Annotated[
    str,
    Field(
        pattern=SCOPE_PATTERN,
        description="'*' (every route) or '<METHOD|ANY> <path pattern>', e.g. 'GET /invoke' or 'ANY /reports/*'",
    ),
]
Scopes = Annotated[list[Scope], Field(min_length=1, max_length=MAX_SCOPES)]
GraceSeconds = Annotated[int, Field(ge=0, le=MAX_GRACE_SECONDS)]
RotationDays = Annotated[int, Field(ge=MIN_ROTATION_DAYS, le=MAX_ROTATION_DAYS)]
ReaderArn = Annotated[str, Field(pattern=READER_ARN_PATTERN)]

#: The instants a caller may name (an expiry, the ends of a usage range): from the Unix epoch to a
#: day before the end of datetime's range. Outside it an instant has no UTC form (the year-1 and
#: year-9999 ends shifted by a zone offset), so the steps after validation (the event's times, the
#: expiry tag, the usage buckets, a display in any local zone) would fail on a value already saved.
EARLIEST_TIME = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(9999, 12, 31, tzinfo=UTC)
_TIME_RANGE = f"{EARLIEST_TIME:%Y-%m-%dT%H:%M:%SZ} to {LATEST_TIME:%Y-%m-%dT%H:%M:%SZ}"


def _in_time_range(value: datetime) -> datetime:
    # Aware datetimes compare by their instant without converting either to UTC: no overflow here.
    if not EARLIEST_TIME <= value <= LATEST_TIME:
        raise ValueError(f"must lie within {_TIME_RANGE}")
    return value


Timestamp = Annotated[
    AwareDatetime,
    AfterValidator(_in_time_range),
    Field(description=f"ISO 8601 with a zone, within {_TIME_RANGE}"),
]


def utcnow_from(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class PreviousToken(BaseModel):
    """The token a rotation replaced: only its digest, valid until ``valid_until``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sha256: Annotated[str, Field(pattern=DIGEST_PATTERN)]
    valid_until: datetime

    @field_validator("valid_until")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("timestamps must carry a time zone")
        return value


def _rate_precision(value: float) -> float:
    if not within_rate_precision(value):
        raise ValueError(f"a rate has at most {RATE_DECIMALS} decimal places")
    return value


class RateLimit(BaseModel):
    """A token bucket: ``requests_per_second`` refill, at most ``burst`` at once."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    requests_per_second: Annotated[
        float,
        Field(
            ge=MIN_RATE_PER_SECOND,
            le=MAX_RATE_PER_SECOND,
            allow_inf_nan=False,
            description=f"At most {RATE_DECIMALS} decimal places",
        ),
        AfterValidator(_rate_precision),
    ]
    burst: Annotated[int, Field(ge=1, le=MAX_BURST)]


def _thresholds(value: list[int] | None) -> list[int] | None:
    return None if value is None else list(check_thresholds(value))


class Quota(BaseModel):
    """At most ``limit`` allowed requests per calendar ``period`` in UTC."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    limit: Annotated[int, Field(ge=1, le=MAX_QUOTA)]
    period: QuotaPeriod
    thresholds: Annotated[
        list[Annotated[int, Field(strict=True)]] | None,
        Field(
            description=(
                "Percentages of the limit (1-100, ascending) whose crossing is a Client Quota Threshold event,"
                f" once per period; null: {', '.join(map(str, DEFAULT_QUOTA_THRESHOLDS))}; []: none"
            ),
        ),
        AfterValidator(_thresholds),
    ] = None


def _cidr(value: str) -> str:
    return str(parse_network(value))


Cidr = Annotated[
    str,
    Field(
        max_length=MAX_CIDR_CHARS,
        description="An IPv4 or IPv6 network, e.g. 203.0.113.0/24; /0 is refused (use null)",
    ),
    AfterValidator(_cidr),
]
AllowedCidrs = Annotated[list[Cidr], Field(min_length=1, max_length=MAX_CIDRS)]


class RotationPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    period_days: RotationDays | None = None
    grace_seconds: GraceSeconds = 86400


class ClientRecord(BaseModel):
    """One client. ``key_id`` is also the client id in the admin API."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1] = SCHEMA_VERSION
    key_id: str
    token: SecretStr | None
    #: An imported client's current token, as its SHA-256 (the plaintext is never stored); set
    #: exactly when ``token`` is not, until the first rotation gives the client a token of ours.
    imported_sha256: Annotated[str | None, Field(pattern=DIGEST_PATTERN)] = None
    tenant: Tenant
    client_name: ClientName
    scopes: Scopes
    enabled: bool = True
    expires_at: datetime | None = None
    rotation: RotationPolicy = RotationPolicy()
    previous: PreviousToken | None = None
    reader_arn: ReaderArn | None = None
    token_fetch: bool = False
    rate_limit: RateLimit | None = None
    quota: Quota | None = None
    allowed_cidrs: AllowedCidrs | None = None
    on_limit: OnLimit = "deny"
    created_at: datetime
    created_by: str
    updated_at: datetime
    updated_by: str
    rotated_at: datetime | None = None

    @field_validator("key_id")
    @classmethod
    def _key_id(cls, value: str) -> str:
        if not tokens.is_key_id(value):
            raise ValueError("invalid key id")
        return value

    @field_validator("token")
    @classmethod
    def _token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            tokens.parse(value.get_secret_value())  # raises on a corrupt stored token
        return value

    @model_validator(mode="after")
    def _one_current_token(self) -> ClientRecord:
        if (self.token is None) == (self.imported_sha256 is None):
            raise ValueError("a record holds either a token or an imported token's digest")
        return self

    @field_validator("expires_at", "created_at", "updated_at", "rotated_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("timestamps must carry a time zone")
        return value

    # -- (de)serialisation ----------------------------------------------------------------------

    def to_secret_string(self) -> str:
        """The only place a plaintext token is serialised: the SecretString written to the store."""
        data = self.model_dump(mode="json", exclude_none=False)
        data["token"] = None if self.token is None else self.token.get_secret_value()
        if self.imported_sha256 is None:
            del data["imported_sha256"]  # records of clients never imported stay as they were
        return json.dumps(data, separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_secret_string(cls, text: str) -> ClientRecord:
        return cls.model_validate_json(text)

    # -- derived state ----------------------------------------------------------------------------

    @property
    def imported(self) -> bool:
        return self.imported_sha256 is not None

    @property
    def own_token(self) -> str:
        """The client's token of ours; an imported client has none until its first rotation."""
        if self.token is None:
            raise ValueError("an imported client has no token of ours until it rotates")
        return self.token.get_secret_value()

    @property
    def current_sha256(self) -> str:
        """The digest of the token that is current: ours, or the imported one."""
        if self.token is not None:
            return tokens.digest(self.token.get_secret_value()).hex()
        assert self.imported_sha256 is not None
        return self.imported_sha256

    @property
    def has_usage_policy(self) -> bool:
        return self.rate_limit is not None or self.quota is not None or self.allowed_cidrs is not None

    def delivery_problem(self) -> str | None:
        """Why a scheduled rotation would strand this client, if it would.

        A rotated token must reach its holder: through the reader principal (which reads the
        secret), or through ``GET /token`` with the previous token, which works only during the
        grace window. A grace window as long as the period would also end the previous token's
        grace early at the next rotation, so it must be shorter.
        """
        period = self.rotation.period_days
        if period is None:
            return None
        if self.reader_arn is None and not self.token_fetch:
            return (
                "a rotation schedule needs a delivery path for the new token:"
                " set reader_arn (an IAM principal that reads it) or token_fetch (GET /token)"
            )
        if self.reader_arn is None and self.rotation.grace_seconds == 0:
            return "with token_fetch as the only delivery path, grace_seconds must be above 0"
        if self.rotation.grace_seconds >= period * 86400:
            return "grace_seconds must be shorter than the rotation period"
        return None

    def accepts(self, presented: str, now: datetime) -> bool:
        """Whether this client takes ``presented`` now: the authorizer's rule, in constant time."""
        previous = self.previous
        return rules.accepts(
            tokens.digest(presented),
            bytes.fromhex(self.current_sha256),
            bytes.fromhex(previous.sha256) if previous else None,
            previous.valid_until.timestamp() if previous else None,
            now.timestamp(),
        )

    def status_at(self, now: datetime) -> Literal["active", "disabled", "expired"]:
        if not self.enabled:
            return "disabled"
        if self.expires_at is not None and now >= self.expires_at:
            return "expired"
        return "active"

    def rotated(self, new_token: str, now: datetime, actor: str) -> ClientRecord:
        """The record after a rotation: the old token (an imported one too) stays valid for the
        grace period; from now on the client has a token of ours."""
        grace = self.rotation.grace_seconds
        previous = (
            PreviousToken(sha256=self.current_sha256, valid_until=now + timedelta(seconds=grace)) if grace > 0 else None
        )
        return self.model_copy(
            update={
                "token": SecretStr(new_token),
                "imported_sha256": None,
                "previous": previous,
                "rotated_at": now,
                "updated_at": now,
                "updated_by": actor,
            }
        )

    def with_changes(self, changes: dict[str, Any], now: datetime, actor: str) -> ClientRecord:
        """A validated copy (``model_copy`` alone would skip validation)."""
        data = self.model_dump()
        data.update(changes)
        data.update(updated_at=now, updated_by=actor)
        return ClientRecord.model_validate(data)

"""The authorizer's reading of a client record: strict, hand-written, and free of pydantic.

The authorizer's cold start is measured against the reference design's, and pydantic plus the
record model cost more to import and build than the whole first decision. So the authorizer reads
a record's SecretString here, checking every field it uses as strictly as
:class:`~tokengate_core.records.model.ClientRecord` does (a property test holds the two to the same
answers); the admin and rotation functions keep the pydantic model. Both apply the rules of
:mod:`tokengate_core.records.rules`.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tokengate_core.authorize.cache import CachedClient, Entry, UsagePolicy
from tokengate_core.records.index import IndexItemError, decode
from tokengate_core.records.rules import (
    CLIENT_NAME_PATTERN,
    DEFAULT_QUOTA_THRESHOLDS,
    DIGEST_PATTERN,
    MAX_BURST,
    MAX_CIDRS,
    MAX_QUOTA,
    MAX_RATE_PER_SECOND,
    MAX_SCOPES,
    MIN_RATE_PER_SECOND,
    ON_LIMIT,
    QUOTA_PERIODS,
    SCHEMA_VERSION,
    SCOPE_PATTERN,
    TENANT_PATTERN,
    check_thresholds,
    parse_network,
    scope_regex,
    within_rate_precision,
)
from tokengate_core.tokens import format as tokens

if TYPE_CHECKING:
    from tokengate_core.records.model import ClientRecord

# ON_LIMIT and QUOTA_PERIODS: also read from here by the CLI's option parsing.
__all__ = ["ON_LIMIT", "QUOTA_PERIODS", "TOKEN_STATUS_KEY", "RecordError", "parse_cached", "parse_indexed"]

#: The authorizer context key (and, through the stage's response mapping, the response header
#: ``Tokengate-Token-Status``) that tells a client whether it used its current token.
TOKEN_STATUS_KEY = "token_status"

_TENANT = re.compile(TENANT_PATTERN)
_CLIENT_NAME = re.compile(CLIENT_NAME_PATTERN)
_SCOPE = re.compile(SCOPE_PATTERN)
_DIGEST = re.compile(DIGEST_PATTERN)


class RecordError(ValueError):
    """The secret is not a valid client record; the message names a field, never a value."""


def _number(value: Any, name: str, low: float, high: float, *, whole: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or (whole and not isinstance(value, int)):
        raise RecordError(f"invalid {name}")
    if not low <= value <= high:
        raise RecordError(f"invalid {name}")
    return value


def _policy(data: dict[str, Any]) -> UsagePolicy | None:
    rate = data.get("rate_limit")
    quota = data.get("quota")
    cidrs = data.get("allowed_cidrs")
    on_limit = data.get("on_limit", "deny")
    if on_limit not in ON_LIMIT:
        raise RecordError("invalid on_limit")
    if rate is None and quota is None and cidrs is None:
        return None
    policy_rate = None
    if rate is not None:
        if not isinstance(rate, dict) or set(rate) != {"requests_per_second", "burst"}:
            raise RecordError("invalid rate_limit")
        per_second = _number(
            rate["requests_per_second"], "rate_limit", MIN_RATE_PER_SECOND, MAX_RATE_PER_SECOND, whole=False
        )
        if not within_rate_precision(per_second):
            raise RecordError("invalid rate_limit")
        policy_rate = (float(per_second), int(_number(rate["burst"], "rate_limit", 1, MAX_BURST, whole=True)))
    policy_quota = None
    thresholds: tuple[int, ...] = ()
    if quota is not None:
        if (
            not isinstance(quota, dict)
            or not {"limit", "period"} <= set(quota) <= {"limit", "period", "thresholds"}
            or quota["period"] not in QUOTA_PERIODS
        ):
            raise RecordError("invalid quota")
        policy_quota = (int(_number(quota["limit"], "quota", 1, MAX_QUOTA, whole=True)), str(quota["period"]))
        given = quota.get("thresholds")
        try:
            thresholds = DEFAULT_QUOTA_THRESHOLDS if given is None else check_thresholds(given)
        except ValueError:
            raise RecordError("invalid quota") from None
    networks = None
    if cidrs is not None:
        if (
            not isinstance(cidrs, list)
            or not 1 <= len(cidrs) <= MAX_CIDRS
            or not all(isinstance(c, str) for c in cidrs)
        ):
            raise RecordError("invalid allowed_cidrs")
        try:
            networks = tuple(parse_network(c) for c in cidrs)
        except ValueError:
            raise RecordError("invalid allowed_cidrs") from None
    return UsagePolicy(
        rate=policy_rate, quota=policy_quota, networks=networks, on_limit=str(on_limit), thresholds=thresholds
    )


def _str(data: dict[str, Any], name: str, pattern: re.Pattern[str]) -> str:
    value = data.get(name)
    # fullmatch: with match, ``$`` would also accept a final newline, which the model refuses.
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise RecordError(f"invalid {name}")
    return value


def _bool(data: dict[str, Any], name: str, default: bool) -> bool:
    value = data.get(name, default)
    if not isinstance(value, bool):
        raise RecordError(f"invalid {name}")
    return value


def _time(value: Any, name: str) -> float:
    if not isinstance(value, str):
        raise RecordError(f"invalid {name}")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise RecordError(f"invalid {name}") from None
    if when.tzinfo is None:
        raise RecordError(f"invalid {name}")
    return when.timestamp()


def _utc(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def _document(text: str, key_id: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError:
        raise RecordError("not JSON") from None
    if not isinstance(data, dict) or data.get("schema_version", SCHEMA_VERSION) != SCHEMA_VERSION:
        raise RecordError("invalid schema_version")
    if data.get("key_id") != key_id:
        raise RecordError("invalid key_id")
    return data


def parse_cached(text: str, key_id: str) -> CachedClient:
    """What a decision needs from the record stored for ``key_id``: digests, never the token."""
    data = _document(text, key_id)
    token = data.get("token")
    imported = data.get("imported_sha256")
    if token is None and "token" in data and imported is not None:
        # An imported client: its current token is the one it brought, known by digest only.
        current_digest = bytes.fromhex(_str(data, "imported_sha256", _DIGEST))
    else:
        if not isinstance(token, str) or imported is not None:
            raise RecordError("invalid token")
        try:
            parsed = tokens.parse(token)
        except tokens.TokenFormatError:
            raise RecordError("invalid token") from None
        if parsed.key_id != key_id:
            raise RecordError("invalid token")
        current_digest = parsed.digest
    return _cached(data, key_id, current_digest, None)


def parse_indexed(doc: str, key_id: str, tenant: str) -> CachedClient:
    """The same from a digest index item's doc (tokengate_core.records.index): the record without
    its token, with the current digest (``sha256``) and, mid-rotation, the pending one. The item's
    ``tenant`` must be the doc's: a doc copied onto another item reads as corrupt."""
    data = _document(doc, key_id)
    if "token" in data:
        raise RecordError("invalid token")  # an index item never holds one
    current_digest = bytes.fromhex(_str(data, "sha256", _DIGEST))
    imported = data.get("imported_sha256")
    if imported is not None and imported != data["sha256"]:
        raise RecordError("invalid imported_sha256")
    pending = None
    if data.get("pending_sha256") is not None:
        pending = bytes.fromhex(_str(data, "pending_sha256", _DIGEST))
    client = _cached(data, key_id, current_digest, pending)
    if client.tenant != tenant:
        raise RecordError("invalid tenant")
    return client


def _cached(data: dict[str, Any], key_id: str, current_digest: bytes, pending_digest: bytes | None) -> CachedClient:
    tenant = _str(data, "tenant", _TENANT)
    client_name = _str(data, "client_name", _CLIENT_NAME)
    scopes = data.get("scopes")
    if (
        not isinstance(scopes, list)
        or not 1 <= len(scopes) <= MAX_SCOPES
        or not all(isinstance(s, str) and _SCOPE.fullmatch(s) for s in scopes)
    ):
        raise RecordError("invalid scopes")
    enabled = _bool(data, "enabled", True)
    token_fetch = _bool(data, "token_fetch", False)
    expires = data.get("expires_at")
    expires_at = None if expires is None else _time(expires, "expires_at")
    previous = data.get("previous")
    previous_digest: bytes | None = None
    previous_until: float | None = None
    if previous is not None:
        if not isinstance(previous, dict) or set(previous) != {"sha256", "valid_until"}:
            raise RecordError("invalid previous")
        previous_digest = bytes.fromhex(_str(previous, "sha256", _DIGEST))
        previous_until = _time(previous["valid_until"], "previous.valid_until")
    context = {
        "tenant": tenant,
        "client_id": key_id,
        "client_name": client_name,
        "scopes": ",".join(scopes),
        TOKEN_STATUS_KEY: "current",
    }
    grace_context = None
    if previous_until is not None:
        grace_context = {**context, TOKEN_STATUS_KEY: f"grace; ends={_utc(previous_until)}"}
    return CachedClient(
        key_id=key_id,
        tenant=tenant,
        client_name=client_name,
        scopes=tuple(scopes),
        current_digest=current_digest,
        previous_digest=previous_digest,
        previous_valid_until=previous_until,
        enabled=enabled,
        expires_at=expires_at,
        context=context,
        grace_context=grace_context,
        patterns=tuple(scope_regex(s) for s in scopes),
        token_fetch=token_fetch,
        policy=_policy(data),
        pending_digest=pending_digest,
    )


def cache_entry(item: dict[str, Any] | None, key_id: str, now: float) -> Entry:
    """An index item as the authorizer's cache keeps it. One that is not ours (malformed, another
    client's or another tenant's doc) is not the backend's fault, and not worth a read per
    request: remembered like an unknown id."""
    if item is None:
        return Entry("unknown", None, now)
    try:
        indexed = decode(item, key_id)
        if indexed.revoked:
            return Entry("revoked", None, now)
        return Entry("found", parse_indexed(indexed.doc, key_id, indexed.tenant), now)
    except (IndexItemError, RecordError):
        return Entry("corrupt", None, now)


def to_cached(record: ClientRecord) -> CachedClient:
    """A record as the authorizer caches it (for callers that hold a model, such as tests)."""
    return parse_cached(record.to_secret_string(), record.key_id)

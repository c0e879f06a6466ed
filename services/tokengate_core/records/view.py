"""The authorizer's reading of a client record: strict, hand-written, and free of pydantic.

The authorizer's cold start is measured against the reference design's, and pydantic plus the
record model cost more to import and build than the whole first decision. So the authorizer reads
a record's SecretString here, checking every field it uses as strictly as
:class:`~tokengate_core.records.model.ClientRecord` does (a property test holds the two to the same
answers); the admin and rotation functions keep the pydantic model. The field patterns are
defined here, once, and the model takes them from here.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from tokengate_core.authorize.cache import CachedClient, IPNetwork, UsagePolicy
from tokengate_core.tokens import format as tokens

TENANT_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62})$"
CLIENT_NAME_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,63})$"
#: Why a name that matches CLIENT_NAME_PATTERN is still refused for a new client. A name is shown
#: wherever the client is (lifecycle events, logs, listings), and lifecycle events refuse anything
#: shaped like a secret (tokens.SECRET_SHAPED), so such a name would be a client no event can name.
SECRET_SHAPED_NAME = (
    "a client name may not hold anything shaped like a token or a SHA-256 digest (names are shown in events)"
)
SCOPE_PATTERN = r"^(\*|(ANY|\*|GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) /[A-Za-z0-9._~{}+*/-]*)$"
MAX_SCOPES = 32
DIGEST_PATTERN = r"^[0-9a-f]{64}$"
SCHEMA_VERSION = 1
#: Usage policy limits (the admin API's models take them from here). A rate has at most
#: RATE_DECIMALS decimal places, so the slowest is one request in 10**RATE_DECIMALS seconds (a
#: slower client wants a quota): the bucket's numbers, written to DynamoDB, then stay far inside
#: what DynamoDB stores (38 significant digits, magnitudes 1E-130 to 1E+126), where a rate such
#: as 1e-300 made every write fail and the limit fail open.
RATE_DECIMALS = 4
MIN_RATE_PER_SECOND = 10.0**-RATE_DECIMALS
MAX_RATE_PER_SECOND = 100_000.0
MAX_BURST = 1_000_000
MAX_QUOTA = 10**12
QUOTA_PERIODS = ("day", "month")
MAX_CIDRS = 64
ON_LIMIT = ("deny", "tell_integration")
#: The authorizer context key (and, through the stage's response mapping, the response header
#: ``Tokengate-Token-Status``) that tells a client whether it used its current token.
TOKEN_STATUS_KEY = "token_status"

_TENANT = re.compile(TENANT_PATTERN)
_CLIENT_NAME = re.compile(CLIENT_NAME_PATTERN)
_SCOPE = re.compile(SCOPE_PATTERN)
_DIGEST = re.compile(DIGEST_PATTERN)


class RecordError(ValueError):
    """The secret is not a valid client record; the message names a field, never a value."""


def is_new_client_name(name: str) -> bool:
    """The rule for a new client's name (the admin API's bodies, the CLI): the record's pattern,
    and nothing shaped like a secret. A stored record is read by the pattern alone, so a client
    named before the second half existed stays readable (and can be revoked)."""
    return _CLIENT_NAME.fullmatch(name) is not None and not tokens.is_secret_shaped(name)


def scope_regex(scope: str) -> re.Pattern[str]:
    """Compile one scope to a regex over ``"<METHOD> <path>"``.

    ``*`` in a path matches within one segment, ``**`` across segments; method ``ANY`` or ``*``
    matches every method. Scope ``*`` matches everything.
    """
    if scope == "*":
        return re.compile(r"^.*$", re.DOTALL)
    method, _, path = scope.partition(" ")
    method_re = r"[A-Z]+" if method in ("ANY", "*") else re.escape(method)
    parts = []
    i = 0
    while i < len(path):
        if path.startswith("**", i):
            parts.append(".*")
            i += 2
        elif path[i] == "*":
            parts.append("[^/]*")
            i += 1
        else:
            parts.append(re.escape(path[i]))
            i += 1
    return re.compile(rf"^{method_re} {''.join(parts)}$", re.DOTALL)


def parse_network(value: str) -> IPNetwork:
    """One allowlist entry: a network with no host bits set, never ``/0`` (null means anywhere)."""
    import ipaddress  # only clients with an allowlist pay for it

    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise ValueError("not a network with its host bits clear, e.g. 203.0.113.0/24") from None
    if network.prefixlen == 0:
        raise ValueError("a /0 network allows everyone: leave allowed_cidrs null instead")
    return network


def within_rate_precision(value: float) -> bool:
    """At most RATE_DECIMALS decimal places: Python's round is exact in decimal, so a float is
    unchanged by it exactly when its shortest decimal form has no more places."""
    return round(value, RATE_DECIMALS) == value


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
    if quota is not None:
        if not isinstance(quota, dict) or set(quota) != {"limit", "period"} or quota["period"] not in QUOTA_PERIODS:
            raise RecordError("invalid quota")
        policy_quota = (int(_number(quota["limit"], "quota", 1, MAX_QUOTA, whole=True)), str(quota["period"]))
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
    return UsagePolicy(rate=policy_rate, quota=policy_quota, networks=networks, on_limit=str(on_limit))


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


def parse_cached(text: str, key_id: str) -> CachedClient:
    """What a decision needs from the record stored for ``key_id``: digests, never the token."""
    try:
        data = json.loads(text)
    except ValueError:
        raise RecordError("not JSON") from None
    if not isinstance(data, dict) or data.get("schema_version", SCHEMA_VERSION) != SCHEMA_VERSION:
        raise RecordError("invalid schema_version")
    if data.get("key_id") != key_id:
        raise RecordError("invalid key_id")
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
    )

"""What a valid client record may hold: the field patterns, the limits and the meaning of a scope
and of an allowlist entry, defined once.

Three readers apply these rules: the pydantic model (``records.model``, which the admin API's
bodies build on), the authorizer's hand-written reading of a record (``records.view``, which must
not import pydantic: it is on the authorizer's cold path), and the CLI, which checks what it can
before a request. So this module imports nothing but the standard library.
"""

from __future__ import annotations

import hmac
import itertools
import re
from typing import TYPE_CHECKING, Final, Literal, get_args

if TYPE_CHECKING:
    import ipaddress

#: The record's shape; a reader refuses any other version (Final: the model's Literal type is checked against it).
SCHEMA_VERSION: Final = 1

TENANT_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,62})$"
CLIENT_NAME_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,63})$"
_CLIENT_NAME = re.compile(CLIENT_NAME_PATTERN)
#: Why a name that matches CLIENT_NAME_PATTERN is still refused for a new client. A name is shown
#: wherever the client is (lifecycle events, logs, listings), and lifecycle events refuse anything
#: shaped like a secret (tokens.SECRET_SHAPED), so such a name would be a client no event can name.
SECRET_SHAPED_NAME = (
    "a client name may not hold anything shaped like a token or a SHA-256 digest (names are shown in events)"
)
SCOPE_PATTERN = r"^(\*|(ANY|\*|GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) /[A-Za-z0-9._~{}+*/-]*)$"
MAX_SCOPES = 32
#: A SHA-256, lower-case hex: the previous token's digest and an imported token's.
DIGEST_PATTERN = r"^[0-9a-f]{64}$"
#: An IAM or STS principal that may read its client's own secret.
READER_ARN_PATTERN = r"^arn:aws[a-z-]*:(iam|sts)::\d{12}:[A-Za-z0-9+=,.@_/:-]+$"

#: The longest grace window a rotation may give the previous token (the sweep looks this far back).
MAX_GRACE_SECONDS = 30 * 86400
#: A rotation schedule's period, in days.
MIN_ROTATION_DAYS = 1
#: Secrets Manager's longest rate() schedule ("The maximum rotation period is 999 days").
MAX_ROTATION_DAYS = 999

#: Usage policy limits. A rate has at most RATE_DECIMALS decimal places, so the slowest is one
#: request in 10**RATE_DECIMALS seconds (a slower client wants a quota): the bucket's numbers,
#: written to DynamoDB, then stay far inside what DynamoDB stores (38 significant digits,
#: magnitudes 1E-130 to 1E+126), where a rate such as 1e-300 made every write fail and the limit
#: fail open.
RATE_DECIMALS = 4
MIN_RATE_PER_SECOND = 10.0**-RATE_DECIMALS
MAX_RATE_PER_SECOND = 100_000.0
MAX_BURST = 1_000_000
MAX_QUOTA = 10**12
QuotaPeriod = Literal["day", "month"]
QUOTA_PERIODS: tuple[str, ...] = get_args(QuotaPeriod)
#: A quota's thresholds: percentages of its limit whose crossing is a Client Quota Threshold event
#: (at most once each per period). These unless the client names its own; an empty list: none.
DEFAULT_QUOTA_THRESHOLDS = (80, 90, 100)
MAX_QUOTA_THRESHOLDS = 5


def check_thresholds(values: object) -> tuple[int, ...]:
    """Whole percentages from 1 to 100, strictly ascending, at most MAX_QUOTA_THRESHOLDS of them;
    ValueError (naming the rule, never the value) otherwise. The one rule the model and the
    authorizer's view both apply."""
    if not isinstance(values, list | tuple) or len(values) > MAX_QUOTA_THRESHOLDS:
        raise ValueError(f"thresholds must be a list of at most {MAX_QUOTA_THRESHOLDS} percentages")
    if not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 100 for v in values):
        raise ValueError("each threshold must be a whole percentage from 1 to 100")
    if any(b <= a for a, b in itertools.pairwise(values)):
        raise ValueError("thresholds must be in ascending order, each once")
    return tuple(values)


MAX_CIDRS = 64
#: The longest allowlist entry as written (an IPv6 network with its prefix fits well within).
MAX_CIDR_CHARS = 64
#: What a limited request gets: refused by the stage, or passed on with the limit in its context.
OnLimit = Literal["deny", "tell_integration"]
ON_LIMIT: tuple[str, ...] = get_args(OnLimit)


def is_new_client_name(name: str) -> bool:
    """The rule for a new client's name (the admin API's bodies, the CLI): the record's pattern,
    and nothing shaped like a secret. A stored record is read by the pattern alone, so a client
    named before the second half existed stays readable (and can be revoked)."""
    from tokengate_core.tokens import format as tokens  # stdlib only, and on every path already

    return _CLIENT_NAME.fullmatch(name) is not None and not tokens.is_secret_shaped(name)


def within_rate_precision(value: float) -> bool:
    """At most RATE_DECIMALS decimal places: Python's round is exact in decimal, so a float is
    unchanged by it exactly when its shortest decimal form has no more places."""
    return round(value, RATE_DECIMALS) == value


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


def parse_network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """One allowlist entry: a network with no host bits set, never ``/0`` (null means anywhere)."""
    import ipaddress  # only clients with an allowlist pay for it

    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError:
        raise ValueError("not a network with its host bits clear, e.g. 203.0.113.0/24") from None
    if network.prefixlen == 0:
        raise ValueError("a /0 network allows everyone: leave allowed_cidrs null instead")
    return network


def accepts(
    digest: bytes, current: bytes, previous: bytes | None, previous_valid_until: float | None, now: float
) -> bool:
    """Whether a client takes the token whose SHA-256 is ``digest``: its current token (an imported
    one included), or the previous one inside its grace window. Both digests are always compared
    (constant time), so timing does not tell whether a grace window exists. The authorizer and the
    delivery function both decide by this rule."""
    is_current = hmac.compare_digest(digest, current)
    is_previous = hmac.compare_digest(digest, previous or bytes(32))
    in_grace = previous_valid_until is not None and now < previous_valid_until
    return is_current or (is_previous and in_grace)

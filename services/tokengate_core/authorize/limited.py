"""A request over its client's limits that the authorizer let through (``on_limit:
tell_integration``): what the authorizer tells the integration, and what every integration behind
it answers.

The authorizer cannot answer 429 itself (a simple response allows or denies, and a deny is the
stage's 403), so a client that asked to be told gets through with the reason and the wait in the
context. A limit holds only if every route behind the authorizer honours that, so every
integration answers :func:`limited`'s 429 before doing any work of its own.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, NamedTuple

#: Context keys an integration reads when a client's policy says ``on_limit: tell_integration``.
LIMITED_KEY = "usage_limited"
RETRY_AFTER_KEY = "retry_after"


def limited_context(context: Mapping[str, str], reason: str, retry_after: float) -> dict[str, str]:
    """The authorizer's context for a request that reached a limit: the reason and whole seconds to wait."""
    return {**context, LIMITED_KEY: reason, RETRY_AFTER_KEY: str(max(1, math.ceil(retry_after)))}


class Limited(NamedTuple):
    """A request over its client's limits, as the authorizer described it to the integration."""

    reason: str
    retry_after: str  # whole seconds, at least 1

    @property
    def headers(self) -> dict[str, str]:
        return {"content-type": "application/json", "retry-after": self.retry_after}

    @property
    def body(self) -> dict[str, str]:
        return {"message": "Too Many Requests", "reason": self.reason}

    def response(self) -> dict[str, Any]:
        """The integration's answer: 429 with Retry-After."""
        return {"statusCode": 429, "headers": self.headers, "body": json.dumps(self.body)}


def limited(context: Mapping[str, Any]) -> Limited | None:
    """What the authorizer said about a request it let through only to be told it is over a limit;
    None for any other request."""
    reason = context.get(LIMITED_KEY)
    if not isinstance(reason, str) or not reason:
        return None
    wait = context.get(RETRY_AFTER_KEY)
    seconds = wait if isinstance(wait, str) and wait.isascii() and wait.isdigit() and int(wait) > 0 else "1"
    return Limited(reason, seconds)

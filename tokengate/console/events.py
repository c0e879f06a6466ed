"""Where the console reads lifecycle events, newest first.

- The local stack appends every event to ``<state dir>/events.jsonl`` (:mod:`tokengate.local.event_log`).
- A deployed stack's events go to its EventBridge bus; the stack's ``LifecycleLogGroup`` output
  names the CloudWatch Logs log group its rule delivers them to (docs/console.md prices it). The
  console reads it with ``FilterLogEvents`` and the caller's own AWS credentials, so IAM decides
  who reads it, as for every other call.

Either way an event names a tenant, a client and an actor, never a token (tokengate_core.lifecycle.events
refuses to build one that would).
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

#: The most events one answer holds.
MAX_EVENTS = 200
#: How far back the log group is searched (the last hour, then the day, then the week) and how
#: many pages of each window at most: bounded work (and cost) whatever the deployment's volume.
LOG_WINDOWS = (3600, 86400, 7 * 86400)
MAX_LOG_PAGES = 10


class EventsUnavailable(Exception):
    """The events cannot be read (no file, no access): the message says why."""


@dataclass(frozen=True)
class Wanted:
    tenant: str | None = None
    client_id: str | None = None
    limit: int = 50

    def matches(self, event: dict[str, Any]) -> bool:
        detail = event.get("detail")
        if not isinstance(detail, dict):
            return False
        if self.tenant is not None and detail.get("tenant") != self.tenant:
            return False
        return self.client_id is None or detail.get("client_id") == self.client_id


class EventSource(Protocol):
    @property
    def description(self) -> str: ...

    def recent(self, wanted: Wanted) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class EventFile:
    """The local stack's events.jsonl."""

    path: Path

    @property
    def description(self) -> str:
        return f"the local stack's {self.path}"

    def recent(self, wanted: Wanted) -> list[dict[str, Any]]:
        kept: deque[dict[str, Any]] = deque(maxlen=wanted.limit)
        try:
            with self.path.open("rb") as handle:
                for line in handle:
                    if not line.endswith(b"\n"):
                        break  # still being written
                    try:
                        event = json.loads(line)
                    except ValueError:
                        continue
                    if wanted.matches(event):
                        kept.append(event)
        except FileNotFoundError:
            return []  # no event yet
        except OSError as error:
            raise EventsUnavailable(f"cannot read {self.path}: {error.strerror or error}") from None
        return list(reversed(kept))


@dataclass(frozen=True)
class LogGroup:
    """A CloudWatch Logs log group that an EventBridge rule fills with the events, one per log event."""

    name: str
    client: Callable[[], Any]  # a boto3 ``logs`` client, made when first needed

    @property
    def description(self) -> str:
        return f"CloudWatch Logs log group {self.name}"

    def recent(self, wanted: Wanted) -> list[dict[str, Any]]:
        """The newest matching events: the last hour first, then the day, then the week, until
        enough are found. FilterLogEvents answers oldest first, so each window keeps its last."""
        from botocore.exceptions import BotoCoreError, ClientError

        now = time.time()
        found: list[dict[str, Any]] = []
        try:
            logs = self.client()
            end = now
            for start in (now - seconds for seconds in LOG_WINDOWS):
                found += self._window(logs, wanted, int(start * 1000), int(end * 1000))
                if len(found) >= wanted.limit:
                    break
                end = start
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in ("AccessDeniedException", "UnrecognizedClientException"):
                raise EventsUnavailable(f"your identity may not read {self.name}") from None
            raise EventsUnavailable(f"{self.name}: {code or 'error'}") from None
        except BotoCoreError as error:
            raise EventsUnavailable(f"cannot read {self.name}: {error}") from None
        return found[: wanted.limit]

    def _window(self, logs: Any, wanted: Wanted, start_ms: int, end_ms: int) -> list[dict[str, Any]]:
        """The window's matching events, newest first (at most MAX_LOG_PAGES pages read)."""
        request: dict[str, Any] = {"logGroupName": self.name, "startTime": start_ms, "endTime": end_ms}
        pattern = filter_pattern(wanted)
        if pattern:
            request["filterPattern"] = pattern
        kept: deque[dict[str, Any]] = deque(maxlen=wanted.limit)
        for _ in range(MAX_LOG_PAGES):
            page = logs.filter_log_events(**request)
            for entry in page.get("events", []):
                event = _parsed(entry.get("message", ""))
                if event is not None and wanted.matches(event):
                    kept.append(event)
            if not page.get("nextToken"):
                break
            request["nextToken"] = page["nextToken"]
        return list(reversed(kept))


def filter_pattern(wanted: Wanted) -> str:
    """A CloudWatch Logs JSON filter pattern for the tenant and client (values already checked
    against their patterns, so nothing here can be quoted out of)."""
    terms = []
    if wanted.tenant is not None:
        terms.append(f'($.detail.tenant = "{wanted.tenant}")')
    if wanted.client_id is not None:
        terms.append(f'($.detail.client_id = "{wanted.client_id}")')
    return "{ " + " && ".join(terms) + " }" if terms else ""


def _parsed(message: str) -> dict[str, Any] | None:
    try:
        event = json.loads(message)
    except ValueError:
        return None
    return event if isinstance(event, dict) else None

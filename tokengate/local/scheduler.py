"""Secrets Manager's rotation schedule, played locally.

In AWS the admin function registers each client's period with Secrets Manager (RotateSecret with
the rotation function's ARN and ``rate(N days)``), and Secrets Manager invokes that function
through the four steps in each rotation window. Locally there is no rotation function ARN, so the
period stays in the record and this scheduler plays Secrets Manager's part by the same rule
(tokengate_core.records.schedule): a client is due from midnight UTC of the day N days after its
last rotation (or its creation), whatever was written to it since; an update is a new version and
never moves the schedule. A due rotation goes as Secrets Manager runs it: the new version is first
staged AWSPENDING with no value (``stage_rotation``), then the handler is invoked with that version
id as ClientRequestToken and SecretId = the secret's ARN, steps in order, stopping at the first
failed step (the next check starts over with a fresh version).
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, get_args

from tokengate.local.runtime import Invocation
from tokengate_core.errors import NotFoundError, RevokedError, TokengateError
from tokengate_core.lifecycle.rotation import Step
from tokengate_core.records.schedule import window_opens
from tokengate_core.records.store import SecretsStore

#: Secrets Manager's rotation steps, in the order it invokes them.
STEPS: tuple[Step, ...] = get_args(Step)
logger = logging.getLogger("tokengate.local.scheduler")


@dataclass(frozen=True)
class RotationRun:
    key_id: str
    version_id: str
    failed_step: str | None = None

    @property
    def ok(self) -> bool:
        return self.failed_step is None


class RotationScheduler:
    def __init__(
        self,
        store: SecretsStore,
        invoke_rotation: Callable[[dict[str, Any]], Invocation],
        stage_rotation: Callable[[str, str], None],
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._invoke = invoke_rotation
        self._stage = stage_rotation
        self._clock = clock
        self._run_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def due(self, now: datetime) -> list[str]:
        """Key ids whose rotation window has opened since their last rotation (or creation)."""
        due: list[str] = []
        for key_id in self._store.list_all_key_ids():
            try:
                record = self._store.get(key_id)
            except (NotFoundError, RevokedError):
                continue  # revoked clients are not rotated (Secrets Manager skips deleted secrets)
            except TokengateError as error:
                logger.warning("cannot read client %s for its rotation schedule (%s)", key_id, error.code)
                continue
            period = record.rotation.period_days
            if period is None:
                continue
            if window_opens(record.rotated_at or record.created_at, period) <= now:
                due.append(key_id)
        return due

    def run_due(self, now: datetime | None = None) -> list[RotationRun]:
        """Rotate every client due at ``now`` (default: the clock); one run at a time."""
        with self._run_lock:
            return [self.rotate(key_id) for key_id in self.due(now or self._clock())]

    def rotate(self, key_id: str) -> RotationRun:
        secret_arn = str(self._store.describe_raw(self._store.secret_id(key_id))["ARN"])
        version_id = str(uuid.uuid4())
        self._stage(secret_arn, version_id)
        for step in STEPS:
            invocation = self._invoke({"Step": step, "SecretId": secret_arn, "ClientRequestToken": version_id})
            if not invocation.ok:
                logger.warning(
                    "scheduled rotation of %s failed at %s (%s); Secrets Manager would retry later",
                    key_id,
                    step,
                    invocation.error,
                )
                return RotationRun(key_id, version_id, failed_step=step)
        logger.info("scheduled rotation of %s done (version %s)", key_id, version_id)
        return RotationRun(key_id, version_id)

    # -- the timer --------------------------------------------------------------------------------

    def start(self, interval_seconds: float) -> None:
        def loop() -> None:
            while not self._stop.wait(interval_seconds):
                try:
                    self.run_due()
                except Exception as error:  # noqa: BLE001 - the timer outlives one failed check, as the service would
                    logger.warning("rotation check failed: %s", type(error).__name__)

        self._thread = threading.Thread(target=loop, name="rotation-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


#: The event of the sweep's daily schedule.
SCHEDULED_EVENT: dict[str, Any] = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}


class SweepTimer:
    """One of the sweep function's schedules (an EventBridge rule in AWS), played locally: the same
    handler, invoked with the event that schedule sends, every ``interval`` seconds (the
    reconciliation's also once at the start); ``run`` runs it now."""

    def __init__(
        self,
        invoke_sweep: Callable[[dict[str, Any]], Invocation],
        event: dict[str, Any] | None = None,
        name: str = "sweep",
    ) -> None:
        self._invoke = invoke_sweep
        self._event = event if event is not None else SCHEDULED_EVENT
        self.name = name
        self._run_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run(self) -> dict[str, Any] | None:
        """The sweep's report, or None if it failed (the log says why)."""
        with self._run_lock:
            invocation = self._invoke(dict(self._event))
        if not invocation.ok or not isinstance(invocation.value, dict):
            logger.warning("%s failed (%s); the schedule would retry", self.name, invocation.error)
            return None
        logger.info("%s done: %s", self.name, json.dumps(invocation.value, sort_keys=True))
        return invocation.value

    def start(self, interval_seconds: float, *, at_once: bool = False) -> None:
        def loop() -> None:
            if at_once:
                self.run()
            while not self._stop.wait(interval_seconds):
                self.run()

        self._thread = threading.Thread(target=loop, name=f"{self.name}-timer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

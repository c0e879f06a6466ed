"""The sweep function, on two EventBridge schedules: the daily sweep (Client Expiring events for
what ends within the warning window, imported tokens no client accepts taken out of the keyring),
and the reconciliation of the digest index every few minutes (its event says ``{"task":
"reconcile"}``)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tokengate_core.deployment.config import SweepSettings
from tokengate_core.deployment.functions import FUNCTIONS
from tokengate_core.lifecycle.reconcile import RECONCILE_TASK, report_run
from tokengate_core.lifecycle.sweep import Sweeper, report_skipped
from tokengate_core.runtime.aws import make_publisher, make_reconciler, make_store
from tokengate_core.runtime.observability import make_logger

SPEC = FUNCTIONS["sweep"]
settings = SweepSettings.from_env()
logger = make_logger(SPEC.service, settings.log_level)
sweeper = Sweeper(
    make_store(settings), make_publisher(settings, SPEC.service), warning_days=settings.expiry_warning_days
)
reconciler = make_reconciler(settings)


@logger.inject_lambda_context
def handler(event: Any, context: LambdaContext | None) -> dict[str, object]:
    """A failure of the whole run (the listing, the keyring, the checkpoint) raises, so Lambda's
    error metric and the schedule's retry see it; a client the run had to skip, and each repair of
    the index, is reported (and alarmed on) without failing the others."""
    if isinstance(event, dict) and event.get("task") == RECONCILE_TASK:
        budget = context.get_remaining_time_in_millis if context is not None else lambda: SPEC.timeout_seconds * 1000
        reconciled = reconciler.run(remaining=lambda: budget() / 1000)
        report_run(reconciled, SPEC.service, settings.metrics_namespace)
        fields = reconciled.fields()
        logger.info("reconciliation done", extra=fields)  # ids and counts, never a token or a digest
        return fields
    report = sweeper.run()
    report_skipped(report, SPEC.service, settings.metrics_namespace)
    fields = report.fields()
    logger.info("sweep done", extra=fields)  # ids and counts, never a token or a digest
    return fields

"""The sweep function, on two EventBridge schedules: the daily sweep (Client Expiring events for
what ends within the warning window, Client Stale for clients unused too long when the deployment
says so, imported tokens no client accepts taken out of the keyring), and the reconciliation of the
digest index every few minutes (its event says ``{"task": "reconcile"}``)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tokengate_core.deployment.config import SweepSettings
from tokengate_core.deployment.functions import FUNCTIONS
from tokengate_core.lifecycle.events import EventPublisher
from tokengate_core.lifecycle.reconcile import RECONCILE_TASK, report_run
from tokengate_core.lifecycle.stale import StaleCheck
from tokengate_core.lifecycle.sweep import Sweeper, report_skipped
from tokengate_core.records.store import SecretSummary
from tokengate_core.runtime.aws import make_last_used_query, make_publisher, make_reconciler, make_store
from tokengate_core.runtime.observability import make_logger

SPEC = FUNCTIONS["sweep"]
settings = SweepSettings.from_env()
logger = make_logger(SPEC.service, settings.log_level)
publisher = make_publisher(settings, SPEC.service)


def _stale_check(events: EventPublisher) -> StaleCheck | None:
    """Off unless the deployment sets stale_after_days; disabling takes the admin use cases."""
    if settings.stale_after_days is None:
        return None
    disable = None
    if settings.stale_action == "disable":
        from tokengate_core.admin import clients
        from tokengate_core.admin.context import AdminContext
        from tokengate_core.lifecycle.events import ACTOR_SCHEDULED_SWEEP
        from tokengate_core.runtime.aws import make_registry

        client_settings = settings.client_settings()
        context = AdminContext(
            store=make_store(client_settings),
            settings=client_settings,
            registry=make_registry(client_settings),
            audit=lambda action, **fields: logger.info("audit", extra={"audit_action": action, **fields}),
            events=events,
        )

        def disable(summary: SecretSummary) -> None:
            clients.update(context, summary.tenant, summary.key_id, {"enabled": False}, ACTOR_SCHEDULED_SWEEP)

    return StaleCheck(make_last_used_query(settings), settings.stale_after_days, disable)


sweeper = Sweeper(
    make_store(settings),
    publisher,
    warning_days=settings.expiry_warning_days,
    stale=_stale_check(publisher),
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

"""The local stack's own controls: do now what would otherwise wait for time to pass (run the
rotation scheduler as if time had passed, write the usage counts, run the daily sweep).

- ``POST /.local/rotate-due``: run the rotation scheduler now, as if time had passed. In AWS,
  Secrets Manager rotates a client when its period is up; locally the scheduler does, on the real
  clock. To show or test a scheduled rotation without waiting days,
  ``tokengate local rotate-due --advance DAYS`` asks the running stack to run its scheduler once,
  picking the clients due DAYS from now. Only that choice uses the advanced clock: the rotation
  itself happens now, so the old token's grace window runs on the real clock (a client issued
  with a short ``grace_seconds`` shows its end within seconds), and the authorizer decides as it
  always does.
- ``POST /.local/flush-usage``: every idle authorizer container writes its usage counts now. An
  authorizer writes a client's counts on that client's first request after its flush interval
  (tokengate_core.authorize.usage.FLUSH_SECONDS), so a usage report may lag the traffic; locally, this
  makes it current without waiting.
- ``POST /.local/reclaim``: end every idle container of every function now, as Lambda ends
  environments that have been idle a while (the stack also does it on its own after
  ``--container-idle-seconds``, and when it stops). An authorizer container gets SIGTERM first and
  writes the usage counts it holds (tokengate_core.runtime.shutdown), as in AWS.

The endpoints sit outside every stage (``/.local/...``: no stage name can contain a dot), answer
only callers on the loopback interface, and only requests SigV4-signed by the local admin, so they
add nothing a client of the emulated API could reach.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from tokengate.local.iam import Denial, IncomingCall, SigV4Verifier
from tokengate.local.journal import StateNotSavedError
from tokengate.local.principals import execute_api_arn
from tokengate.local.scheduler import RotationScheduler
from tokengate_core.errors import BACKEND_UNAVAILABLE

ROTATE_DUE_PATH = "/.local/rotate-due"
FLUSH_USAGE_PATH = "/.local/flush-usage"
RECLAIM_PATH = "/.local/reclaim"
SWEEP_PATH = "/.local/sweep"
#: The execute-api "stage" the local admin's signature is checked against (its grant covers all).
CONTROL_STAGE = ".local"
MAX_ADVANCE_DAYS = 3650.0


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(json.dumps(body, separators=(",", ":")), status_code=status, media_type="application/json")


def _loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_advance(body: bytes) -> float:
    """``{"advance_days": N}`` (or an empty body: 0) as a number of days; ValueError otherwise."""
    if not body:
        return 0.0
    try:
        data = json.loads(body)
    except ValueError:
        raise ValueError("the body is not JSON") from None
    value = data.get("advance_days", 0) if isinstance(data, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= MAX_ADVANCE_DAYS:
        raise ValueError(f"advance_days must be a number of days from 0 to {MAX_ADVANCE_DAYS:g}")
    return float(value)


async def _admitted(request: Request, verifier: SigV4Verifier, resource: str) -> tuple[bytes, Response | None]:
    """The request's body, and the refusal to answer instead when the caller is not the local admin
    calling from loopback."""
    if not _loopback(request.client.host if request.client else None):
        return b"", _json(403, {"message": "Forbidden"})
    body = await request.body()
    call = IncomingCall(
        method=request.method.upper(),
        scheme=request.url.scheme,
        raw_path=(request.scope.get("raw_path") or request.url.path.encode()).decode("latin-1"),
        raw_query=request.scope.get("query_string", b"").decode("latin-1"),
        headers=[(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in request.headers.raw],
        body=body,
    )
    identity = verifier.verify(call, resource)
    if isinstance(identity, Denial):
        return body, _json(identity.status, {"message": identity.message})
    return body, None


def _resource(api_arn: str, path: str) -> str:
    return execute_api_arn(api_arn, CONTROL_STAGE, "POST", path.removeprefix("/.local"))


class RotateDueEndpoint:
    """``POST /.local/rotate-due``: run the scheduler once with its clock advanced."""

    def __init__(
        self,
        scheduler: RotationScheduler,
        verifier: SigV4Verifier,
        api_arn: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._scheduler = scheduler
        self._verifier = verifier
        self._resource = _resource(api_arn, ROTATE_DUE_PATH)
        self._clock = clock

    async def handle(self, request: Request) -> Response:
        body, refused = await _admitted(request, self._verifier, self._resource)
        if refused is not None:
            return refused
        try:
            advance = parse_advance(body)
        except ValueError as error:
            return _json(400, {"code": "bad_request", "message": str(error)})
        clock = self._clock() + timedelta(days=advance)
        runs = await run_in_threadpool(self._scheduler.run_due, clock)
        return _json(
            200,
            {
                "advance_days": advance,
                "clock": clock.isoformat().replace("+00:00", "Z"),
                "rotations": [
                    {"client_id": r.key_id, "version_id": r.version_id, "ok": r.ok, "failed_step": r.failed_step}
                    for r in runs
                ],
            },
        )


class ContainersEndpoint:
    """``POST /.local/flush-usage`` (``action`` writes the authorizers' usage counts) or
    ``POST /.local/reclaim`` (``action`` ends the idle containers): says how many containers it
    reached."""

    def __init__(
        self, action: Callable[[], int], verifier: SigV4Verifier, api_arn: str, path: str = FLUSH_USAGE_PATH
    ) -> None:
        self._flush = action
        self._verifier = verifier
        self._resource = _resource(api_arn, path)

    async def handle(self, request: Request) -> Response:
        _, refused = await _admitted(request, self._verifier, self._resource)
        if refused is not None:
            return refused
        try:
            containers = await run_in_threadpool(self._flush)
        except StateNotSavedError as error:
            return _json(503, {"code": BACKEND_UNAVAILABLE, "message": str(error)})
        return _json(200, {"containers": containers})


class SweepEndpoint:
    """``POST /.local/sweep``: run the sweep function now, as its daily schedule would."""

    def __init__(self, sweep: Callable[[], dict[str, Any] | None], verifier: SigV4Verifier, api_arn: str) -> None:
        self._sweep = sweep
        self._verifier = verifier
        self._resource = _resource(api_arn, SWEEP_PATH)

    async def handle(self, request: Request) -> Response:
        _, refused = await _admitted(request, self._verifier, self._resource)
        if refused is not None:
            return refused
        report = await run_in_threadpool(self._sweep)
        if report is None:
            return _json(500, {"code": "sweep_failed", "message": "the sweep failed: the stack's log says why"})
        return _json(200, report)

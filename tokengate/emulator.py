"""The embedded AWS: moto's server app on loopback (Secrets Manager, DynamoDB, EventBridge), with
call counting and faults.

Counting happens at the emulator, so a test of "at most K GetSecretValue calls" counts what a
real account would be billed for, retries included. Faults (throttling, 5xx, a hang past the
client's read timeout, and for PutEvents entries EventBridge reports as failed) are injected in
front of moto, so the code under test sees real HTTP. Every event moto accepted can be handed to
an observer (``on_events``: the local stack's events.jsonl). A hung call is not dropped: when its
hang ends (after ``hang_seconds``, or at once when the next fault is injected) it reaches moto,
like a slow call the service completes after the client gave up (``wait_idle`` waits for those).

Where moto's answers differ from Secrets Manager's in a way tokengate shows, the emulator corrects
them: ``DeletedDate`` is when the deletion was asked for (moto reports the end of the recovery
window, which AWS returns only as DeleteSecret's ``DeletionDate``), and TagResource and
UntagResource on a secret scheduled for deletion are refused with InvalidRequestException, as
Secrets Manager refuses them (moto applies them; LocalStack checked the same against AWS, see
localstack/localstack#13648), and a Query reads its key range, not the table (tokengate.moto_query).
An :class:`Interceptor` (the local stack's journal) may stand between every call and moto.
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from tokengate.moto_query import narrow_moto_query

SECRETS_MANAGER = "secretsmanager"
DYNAMODB = "dynamodb"
EVENTS = "events"
#: X-Amz-Target prefixes of the services counted, and the prefix of their operations' counts
#: (Secrets Manager's are bare, as most tests count them).
_TARGETS = {"secretsmanager.": "", "DynamoDB_20120810.": f"{DYNAMODB}:", "AWSEvents.": f"{EVENTS}:"}
FaultKind = Literal["throttle", "error", "hang", "failed_entries"]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
#: The region in a SigV4 credential scope: ``Credential=<key>/<date>/<region>/<service>/aws4_request``.
_SCOPE_REGION = re.compile(r"Credential=[^/,]+/\d{8}/([a-z0-9-]+)/")
_SCOPE_KEY = re.compile(r"Credential=([^/,]+)/")


@dataclass
class Fault:
    """A fault for one service's operations. ``failed_entries`` (EventBridge's PutEvents): the call
    answers 200 with every entry failed (``FailedEntryCount``)."""

    kind: FaultKind
    operations: frozenset[str] | None = None  # None: every operation of the service
    hang_seconds: float = 2.0
    service: str = SECRETS_MANAGER

    def applies(self, operation: str) -> bool:
        service, _, name = operation.rpartition(":")
        if (service or SECRETS_MANAGER) != self.service:
            return False
        return self.operations is None or name in self.operations


#: ``on_events`` receives each event moto accepted, as EventBridge delivers it to a rule's target.
EventObserver = Callable[[list[dict[str, Any]]], None]
#: A call's answer: WSGI status line, headers and body chunks.
Answer = tuple[str, list[tuple[str, str]], list[bytes]]


class Interceptor(Protocol):
    """Stands between each call and moto: ``forward()`` runs the call in moto and must be called
    with :attr:`SecretsManagerEmulator.moto_lock` held; the answer returned is what the caller gets."""

    def call(self, operation: str, environ: dict[str, Any], body: bytes, forward: Callable[[], Answer]) -> Answer: ...


def call_region(environ: dict[str, Any]) -> str | None:
    """The region a SigV4-signed call is for (its credential scope)."""
    found = _SCOPE_REGION.search(environ.get("HTTP_AUTHORIZATION", ""))
    return found.group(1) if found else None


def call_account(environ: dict[str, Any]) -> str:
    """The account moto serves a call from, as moto decides it (its environment variable, its
    header, else the account of the access key: the default one for any key moto's IAM never made)."""
    import os

    from moto.core.models import DEFAULT_ACCOUNT_ID

    chosen = os.environ.get("MOTO_ACCOUNT_ID") or environ.get("HTTP_X_MOTO_ACCOUNT_ID")
    if chosen:
        return str(chosen)
    key = _SCOPE_KEY.search(environ.get("HTTP_AUTHORIZATION", ""))
    if key is None:
        return str(DEFAULT_ACCOUNT_ID)
    from moto.iam.models import get_account_id_from

    return str(get_account_id_from(key.group(1)))


@dataclass
class _State:
    calls: Counter[str] = field(default_factory=Counter)
    fault: Fault | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: Set to end the current fault's hangs; each injection gets a fresh one.
    released: threading.Event = field(default_factory=threading.Event)
    in_flight: int = 0
    idle: threading.Condition = field(default_factory=threading.Condition)
    # Secrets Manager is atomic per call; moto's backends are not thread-safe (a check-then-insert
    # in CreateSecret could interleave), so calls into moto run one at a time.
    moto_lock: threading.Lock = field(default_factory=threading.Lock)


class _QuietHandler(WSGIRequestHandler):
    """No per-request access log: the emulator serves thousands of calls in a benchmark."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class SecretsManagerEmulator:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, on_events: EventObserver | None = None) -> None:
        self._host = host
        self._port = port
        self._on_events = on_events
        self._interceptor: Interceptor | None = None
        self._state = _State()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> SecretsManagerEmulator:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        narrow_moto_query()
        moto_app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(
            self._host,
            self._port,
            self._middleware(_with_aws_rules(moto_app)),
            threaded=True,
            request_handler=_QuietHandler,
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="sm-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> SecretsManagerEmulator:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "emulator not started"
        host, port = self._server.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else host
        return f"http://{name}:{port}"

    # -- observation and faults -------------------------------------------------------------------

    def calls(self, operation: str | None = None) -> int:
        """Secrets Manager calls (all, or of one operation); DynamoDB's as ``dynamodb:<Operation>``."""
        with self._state.lock:
            if operation is None:
                return sum(n for name, n in self._state.calls.items() if ":" not in name)
            return self._state.calls[operation]

    def dynamodb_calls(self) -> int:
        with self._state.lock:
            return sum(n for name, n in self._state.calls.items() if name.startswith(f"{DYNAMODB}:"))

    def reset_counts(self) -> None:
        with self._state.lock:
            self._state.calls.clear()

    def inject(self, fault: Fault | None) -> None:
        """Replace the fault; calls hanging on the previous one go on to moto now."""
        self._state.released.set()
        self._state.released = threading.Event()
        self._state.fault = fault

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Until no call is inside the emulator (a released hang has reached moto and returned)."""
        with self._state.idle:
            if not self._state.idle.wait_for(lambda: self._state.in_flight == 0, timeout):
                raise TimeoutError("the emulator still has calls in flight")

    def reset(self) -> None:
        """Forget every secret (moto's reset API) and every count and fault.

        A call still hanging from the last fault is released and finished first, so it cannot
        land in the fresh state."""
        self.inject(None)
        self.wait_idle()
        url = f"{self.url}/moto-api/reset"  # our own loopback server, never a user-given URL
        request = urllib.request.Request(url, method="POST", data=b"")  # noqa: S310
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            response.read()
        self.reset_counts()

    def create_table(self, name: str) -> None:
        """The deployment's DynamoDB table, as the stack would create it."""
        import boto3

        from tokengate_core.records.names import create_table

        client = boto3.session.Session().client(
            "dynamodb",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - the emulator's fixed fake credentials
        )
        create_table(client, name)

    @property
    def moto_lock(self) -> threading.Lock:
        """Held around every call into moto (its backends are not thread-safe)."""
        return self._state.moto_lock

    def intercept(self, interceptor: Interceptor | None) -> None:
        """Put ``interceptor`` between every later call and moto (None: none)."""
        self._interceptor = interceptor

    def stage_rotation(self, arn: str, version_id: str) -> None:
        """:func:`stage_rotation`, between two calls into moto."""
        with self._state.moto_lock:
            stage_rotation(arn, version_id)

    def _middleware(self, app: WSGIApp) -> WSGIApp:
        state = self._state
        observe = self._on_events

        def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            target = environ.get("HTTP_X_AMZ_TARGET", "")
            prefix = next((p for p in _TARGETS if target.startswith(p)), None)
            operation = _TARGETS[prefix] + target[len(prefix) :] if prefix else ""
            with state.idle:
                state.in_flight += 1
            try:
                return handle(environ, start_response, operation)
            finally:
                with state.idle:
                    state.in_flight -= 1
                    state.idle.notify_all()

        def handle(environ: dict[str, Any], start_response: Callable[..., Any], operation: str) -> Iterable[bytes]:
            interceptor = self._interceptor
            request: bytes | None = None
            if operation == f"{EVENTS}:PutEvents" or (interceptor is not None and operation):
                request = _read_body(environ)  # PutEvents' entries, and what the interceptor reads
            if operation:
                with state.lock:
                    state.calls[operation] += 1
                refused = _fault(state, operation, request, start_response)
                if refused is not None:
                    return refused
            asked_at = time.time()

            def forward() -> Answer:
                status, headers, chunks = _call(app, environ)
                if operation == "DeleteSecret":
                    _date_the_deletion(chunks, asked_at)
                elif observe is not None and request is not None and status.startswith("200"):
                    observe(_accepted_events(request, b"".join(chunks), call_region(environ) or "us-east-1"))
                return status, headers, chunks

            if interceptor is not None and operation:
                status, headers, chunks = interceptor.call(operation, environ, request or b"", forward)
            else:
                with state.moto_lock:
                    status, headers, chunks = forward()
            start_response(status, headers)
            return chunks

        return wrapped


def _fault(
    state: _State, operation: str, request: bytes | None, start_response: Callable[..., Any]
) -> list[bytes] | None:
    """The injected fault's answer for this call, if one applies (a hang waits, then lets it through)."""
    fault, released = state.fault, state.released
    if fault is None or not fault.applies(operation):
        return None
    if fault.kind == "hang":
        released.wait(fault.hang_seconds)
        return None
    if fault.kind == "failed_entries":
        return _failed_entries(request or b"{}", start_response)
    code, status = (
        ("ThrottlingException", "400 Bad Request")
        if fault.kind == "throttle"
        else ("InternalServiceError", "500 Internal Server Error")
    )
    body = json.dumps({"__type": code, "message": f"injected {fault.kind}"}).encode()
    start_response(status, [("Content-Type", "application/x-amz-json-1.1")])
    return [body]


def _call(app: WSGIApp, environ: dict[str, Any]) -> Answer:
    """Run a WSGI call to the end, keeping what it answered instead of sending it."""
    started: list[tuple[str, list[tuple[str, str]]]] = []
    written: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> Callable[[bytes], None]:
        started.append((status, list(headers)))
        return written.append

    chunks = list(app(environ, start_response))
    status, headers = started[-1]
    return status, headers, [*written, *chunks]


def _moto_secret(arn: str) -> Any:
    from moto.secretsmanager.models import secretsmanager_backends

    _, _, _, region, account, _ = arn.split(":", 5)
    return secretsmanager_backends[account][region].secrets[arn]


#: Secrets Manager operations refused on a secret scheduled for deletion that moto applies.
_REFUSED_WHILE_DELETED = ("TagResource", "UntagResource")


def _with_aws_rules(app: WSGIApp) -> WSGIApp:
    """moto's app with the Secrets Manager rules it lacks (called under the moto lock, so a check
    and the call it guards are one step)."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        operation = environ.get("HTTP_X_AMZ_TARGET", "").removeprefix("secretsmanager.")
        if operation in _REFUSED_WHILE_DELETED and _marked_for_deletion(_read_body(environ), environ):
            return _refused_while_deleted(start_response)
        return app(environ, start_response)

    return wrapped


def _marked_for_deletion(request: bytes, environ: dict[str, Any]) -> bool:
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.secretsmanager.models import secretsmanager_backends

    region = _SCOPE_REGION.search(environ.get("HTTP_AUTHORIZATION", ""))
    try:
        secret_id = json.loads(request or b"{}").get("SecretId")
    except (ValueError, AttributeError):
        return False  # moto answers a malformed request itself
    secrets = secretsmanager_backends[DEFAULT_ACCOUNT_ID][region.group(1) if region else "us-east-1"].secrets
    secret = secrets.get(secret_id) if isinstance(secret_id, str) else None
    return secret is not None and bool(secret.is_deleted())


def _refused_while_deleted(start_response: Callable[..., Any]) -> list[bytes]:
    message = "You can't perform this operation on the secret because it was marked for deletion."
    body = json.dumps({"__type": "InvalidRequestException", "message": message}).encode()
    start_response("400 Bad Request", [("Content-Type", "application/x-amz-json-1.1")])
    return [body]


def stage_rotation(arn: str, version_id: str) -> None:
    """What Secrets Manager does when a rotation starts, before it invokes the rotation function:
    a version ``version_id`` labelled AWSPENDING, with no value yet (the label leaves any other
    version, as moto's RotateSecret moves it). The function's createSecret puts the value under
    that version id. The Secrets Manager API has no call that makes such a version, so this sets
    it in moto directly."""
    secret = _moto_secret(arn)
    secret.remove_version_stages_from_old_versions(["AWSPENDING"])
    secret.versions[version_id] = {
        "createdate": int(time.time()),
        "version_id": version_id,
        "version_stages": ["AWSPENDING"],
    }


def _date_the_deletion(body: list[bytes], asked_at: float) -> None:
    """DeletedDate as AWS reports it: when the deletion was asked for (a forced deletion leaves no
    secret to date; a refused one has no ARN)."""
    try:
        arn = json.loads(b"".join(body)).get("ARN")
        secret = _moto_secret(arn) if isinstance(arn, str) else None
    except (ValueError, KeyError, AttributeError):
        return
    if secret is not None and secret.is_deleted():
        secret.deleted_date = asked_at


def _read_body(environ: dict[str, Any]) -> bytes:
    """The request body, put back for moto to read again."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def _failed_entries(request: bytes, start_response: Callable[..., Any]) -> list[bytes]:
    entries = json.loads(request or b"{}").get("Entries") or []
    result = {"ErrorCode": "InternalFailure", "ErrorMessage": "injected failed_entries"}
    body = json.dumps({"FailedEntryCount": len(entries), "Entries": [result for _ in entries]}).encode()
    start_response("200 OK", [("Content-Type", "application/x-amz-json-1.1")])
    return [body]


def _accepted_events(request: bytes, response: bytes, region: str) -> list[dict[str, Any]]:
    """Each entry moto accepted, in the shape EventBridge hands a rule's target."""
    from moto.core.models import DEFAULT_ACCOUNT_ID

    entries = json.loads(request or b"{}").get("Entries") or []
    results = json.loads(response or b"{}").get("Entries") or []
    events = []
    for entry, result in zip(entries, results, strict=False):
        if not result.get("EventId"):
            continue
        when = entry.get("Time")
        events.append(
            {
                "version": "0",
                "id": result["EventId"],
                "detail-type": entry.get("DetailType"),
                "source": entry.get("Source"),
                "account": DEFAULT_ACCOUNT_ID,
                "time": _event_time(when),
                "region": region,
                "resources": entry.get("Resources") or [],
                "detail": json.loads(entry.get("Detail") or "{}"),
            }
        )
    return events


def _event_time(when: Any) -> str:
    """PutEvents carries Time as epoch seconds; EventBridge shows it as ISO 8601 in UTC."""
    import datetime as dt

    moment = dt.datetime.fromtimestamp(float(when), dt.UTC) if when is not None else dt.datetime.now(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

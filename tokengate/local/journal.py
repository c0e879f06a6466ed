"""Each invocation's changes to the embedded AWS, committed to the state file as one transaction
before its result goes back, or undone.

**Whose call is it.** An invocation runs with a :class:`Transaction` as its context (the local
Lambda runtime starts one per invocation); every botocore session made in the process adds the
transaction's id to the calls it sends (a ``before-send`` handler in botocore's built-in list, the
way moto's own mock attaches itself), so the emulator knows which invocation each call belongs to.

**Isolation.** A call that changes a secret or an item of the stack's table first takes that thing
for its transaction until the transaction ends (strict two-phase locking): another invocation that
wants to change it waits (DynamoDB answers such a call ``TransactionConflictException`` after a
while, Secrets Manager ``InternalServiceError``). Reads never wait. Before the first change, the
thing's document is kept (its *before* image).

**Commit.** When the invocation ends, the documents of what it touched are read again and the
ones that differ are written in one SQLite transaction; the events it published are appended to
events.jsonl after that, and versions the change left without a stage are dropped, as Secrets
Manager drops them in the background (so the running stack holds what a restart would load).
If the write fails (a full disk, an I/O error), every thing it touched is put back to its before
image (what the file holds), its events are dropped, and the caller answers 503: nothing was
acknowledged and nothing is half applied. An invocation that fails or times out is rolled back
the same way, and calls still arriving from a timed-out invocation are refused. A call that
carries no transaction (the CLI creating a secret beside the stack's, say) is its own
transaction, committed before moto's answer goes back.
"""

from __future__ import annotations

import contextvars
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tokengate.emulator import Answer, call_account, call_region
from tokengate.local.moto_state import Key, MotoState, is_write
from tokengate.local.store import StateStore

HEADER = "x-tokengate-local-transaction"
_WSGI_HEADER = "HTTP_" + HEADER.upper().replace("-", "_")
#: How long a call waits for a thing another transaction is changing.
LOCK_WAIT_SECONDS = 5.0
T = TypeVar("T")

logger = logging.getLogger("tokengate.local")
_current: contextvars.ContextVar[Transaction | None] = contextvars.ContextVar("tokengate_transaction", default=None)
_hook_lock = threading.Lock()


def tag_calls() -> None:
    """From now on, every botocore session marks its calls with the current transaction's id."""
    from botocore.handlers import BUILTIN_HANDLERS

    entry = ("before-send", _tag)
    with _hook_lock:
        if entry not in BUILTIN_HANDLERS:
            BUILTIN_HANDLERS.append(entry)


def _tag(request: Any, **_: Any) -> None:
    transaction = _current.get()
    if transaction is not None:
        request.headers[HEADER] = transaction.id


@dataclass(eq=False)
class Transaction:
    """One invocation's changes: what it holds, each thing's before image, the events it published."""

    journal: Journal
    id: str = field(default_factory=lambda: secrets.token_hex(16))
    before: dict[Key, str | None] = field(default_factory=dict)
    held: set[Key] = field(default_factory=set)
    events: list[dict[str, Any]] = field(default_factory=list)
    open: bool = True

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` with this transaction as the context of every AWS call it makes."""
        context = contextvars.copy_context()
        context.run(_current.set, self)
        return context.run(fn, *args)

    def commit(self) -> bool:
        return self.journal.commit(self)

    def rollback(self) -> None:
        self.journal.rollback(self)


class Journal:
    """The transactions of one stack, between its functions, the emulator and the state file."""

    def __init__(self, append_events: Callable[[list[dict[str, Any]]], None]) -> None:
        self._append_events = append_events
        self._store: StateStore | None = None
        self._state: MotoState | None = None
        self._moto_lock: Any = threading.Lock()
        self._turns = threading.Condition()
        self._open: dict[str, Transaction] = {}
        self._owners: dict[Key, Transaction] = {}
        self._calling = threading.local()

    def attach(self, store: StateStore, state: MotoState, moto_lock: Any) -> None:
        """Start journaling (after the stored state is in moto): calls change nothing unrecorded from here."""
        self._store, self._state, self._moto_lock = store, state, moto_lock

    def begin(self) -> Transaction:
        transaction = Transaction(self)
        with self._turns:
            self._open[transaction.id] = transaction
        return transaction

    # -- the emulator's side ------------------------------------------------------------------------

    def call(self, operation: str, environ: dict[str, Any], body: bytes, forward: Callable[[], Answer]) -> Answer:
        """One call to the embedded AWS: ``forward()`` runs it in moto (under the emulator's lock)."""
        given = environ.get(_WSGI_HEADER)
        with self._turns:
            transaction = self._open.get(given) if given else None
        if given and transaction is None:
            return _refusal(operation, "the invocation that made this call has ended")
        state = self._state
        keys: list[Key] = []
        if state is not None and is_write(operation) and self._ours(state, environ):
            with self._moto_lock:
                keys = state.touched(operation, body)
        own = self.begin() if keys and transaction is None else None
        transaction = transaction or own
        if keys and transaction is not None and not self._hold(transaction, keys):
            if own is not None:
                own.rollback()
            return _refusal(operation, "another invocation is changing this; try again", conflict=True)
        with self._moto_lock:
            if transaction is not None and not transaction.open:
                return _refusal(operation, "the invocation that made this call has ended")
            if transaction is not None and state is not None:
                for key in keys:
                    if key not in transaction.before:
                        transaction.before[key] = state.read(key)
            self._calling.transaction = transaction
            try:
                answer = forward()
            finally:
                self._calling.transaction = None
        if own is not None and not own.commit():
            return _refusal(operation, "the change could not be saved; nothing was changed")
        return answer

    @staticmethod
    def _ours(state: MotoState, environ: dict[str, Any]) -> bool:
        """A call to the stack's account and region (another's changes are not the stack's state)."""
        return call_region(environ) == state.region and call_account(environ) == state.account

    def observe_events(self, events: list[dict[str, Any]]) -> None:
        """Events moto accepted: kept with the call's transaction until it commits, else appended now."""
        transaction = getattr(self._calling, "transaction", None)
        if transaction is not None:
            transaction.events.extend(events)
        elif events:
            self._append(events)

    # -- ending a transaction -----------------------------------------------------------------------

    def commit(self, transaction: Transaction) -> bool:
        """Write what the transaction changed; False (and everything undone) when the write failed."""
        if not self._close(transaction):
            return False
        try:
            saved = self._save(transaction)
            if not saved:
                self._restore(transaction)
        finally:
            self._release(transaction)
        if saved and transaction.events:
            self._append(transaction.events)
        return saved

    def _save(self, transaction: Transaction) -> bool:
        state, store = self._state, self._store
        if not transaction.before or state is None or store is None:
            return True
        try:
            with self._moto_lock:
                after = {key: state.read(key) for key in transaction.before}
            changes = {key: doc for key, doc in after.items() if doc != transaction.before[key]}
            if changes:
                store.write(changes)
        except Exception as error:  # noqa: BLE001 - a disk error, or any other: the change is undone either way
            logger.warning("could not save a change (%s: %s); it was undone", type(error).__name__, error)
            return False
        with self._moto_lock:
            for key in changes:
                state.settle(key)
        return True

    def rollback(self, transaction: Transaction) -> None:
        if self._close(transaction):
            try:
                self._restore(transaction)
            finally:
                self._release(transaction)

    def _close(self, transaction: Transaction) -> bool:
        with self._turns:
            was_open, transaction.open = transaction.open, False
            self._open.pop(transaction.id, None)
        return was_open

    def _restore(self, transaction: Transaction) -> None:
        if self._state is None:
            return
        with self._moto_lock:
            for key, document in transaction.before.items():
                try:
                    self._state.write(key, document)
                except Exception as error:  # noqa: BLE001 - the others are still put back
                    logger.error("could not undo a change to %s %s (%s)", key[0], key[1], type(error).__name__)

    def _hold(self, transaction: Transaction, keys: list[Key]) -> bool:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        with self._turns:
            for key in keys:
                while self._owners.get(key) not in (None, transaction):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or not transaction.open:
                        return False
                    self._turns.wait(remaining)
                if not transaction.open:
                    return False
                self._owners[key] = transaction
                transaction.held.add(key)
        return True

    def _release(self, transaction: Transaction) -> None:
        with self._turns:
            for key in transaction.held:
                if self._owners.get(key) is transaction:
                    del self._owners[key]
            transaction.held.clear()
            self._turns.notify_all()

    def _append(self, events: list[dict[str, Any]]) -> None:
        try:
            self._append_events(events)
        except OSError as error:
            logger.warning("could not append %d event(s) to events.jsonl: %s", len(events), error.strerror or error)


def _refusal(operation: str, message: str, *, conflict: bool = False) -> Answer:
    """An AWS error answer in the calling service's JSON protocol: DynamoDB's own for an item another
    transaction holds (TransactionConflictException), a retryable server error otherwise."""
    service = operation.partition(":")[0] if ":" in operation else "secretsmanager"
    status = "400 Bad Request" if conflict and service == "dynamodb" else "500 Internal Server Error"
    if service == "dynamodb":
        code = "TransactionConflictException" if conflict else "InternalServerError"
        kind, content = f"com.amazonaws.dynamodb.v20120810#{code}", "application/x-amz-json-1.0"
    else:
        kind = "InternalServiceError" if service == "secretsmanager" else "InternalException"
        content = "application/x-amz-json-1.1"
    body = json.dumps({"__type": kind, "message": message}).encode()
    return status, [("Content-Type", content)], [body]


class StateNotSavedError(RuntimeError):
    """A change the stack could not save: it was undone, and the caller answers 503."""

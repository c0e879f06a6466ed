"""The local stack killed at every write boundary, and on a full disk: no acknowledged write lost,
no client name held twice, nothing half applied.

Each operation runs against a stack that kills itself (SIGKILL) at its N-th write boundary
(tests/e2e/faulty_stack.py), for N = 1, 2, ... until the operation completes before reaching one;
the next start must find every write the stack acknowledged, and each client name once. A write
killed after its commit (``committed``) may be there although never acknowledged, as in any
database; one killed before it must not be.
"""

from __future__ import annotations

import http.client
import secrets
import signal
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import FAST_CACHE
from tests.e2e.faulty_stack import KILLED_PREFIX
from tests.e2e.harness import HttpResult, RunningStack, request, start_stack
from tests.e2e.signing import admin
from tests.e2e.test_usage_limits import flush_usage
from tokengate.local.event_log import EVENTS_FILE
from tokengate_core.deployment.config import AuthorizerSettings

pytestmark = pytest.mark.e2e

#: Usage calls get time to spare on a busy machine (a quota fails closed on a timeout, see test_usage_limits).
ENV = {**FAST_CACHE, AuthorizerSettings.env_name("usage_timeout_seconds"): "5"}
#: No timer writes anything behind the operation under test.
ARGS = ("--rotation-check-interval", "0", "--sweep-interval", "0", "--reconcile-interval", "0")
FAULTY = "tests.e2e.faulty_stack"
CLIENTS = "/admin/tenants/acme/clients"
QUOTA = 3


@dataclass
class Ledger:
    """What the stack acknowledged: the statuses each client may have, tokens that must work."""

    statuses: dict[str, set[str]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    metered: str = ""  # the token whose quota is spent (never used to check: each use spends)
    allowed: int = 0  # quota uses answered 200

    def issued(self, answer: HttpResult) -> str:
        assert answer.status == 201, answer
        client_id = str(answer.body["client"]["client_id"])
        self.statuses[client_id] = {"active"}
        self.tokens[client_id] = answer.body["token"]
        self.names[answer.body["client"]["client_name"]] = client_id
        return client_id

    def check(self, stack: RunningStack) -> None:
        listed = clients(stack)
        names = [c["client_name"] for c in listed]
        assert len(names) == len(set(names)), f"a client name is held twice: {sorted(names)}"
        found = {c["client_id"]: c["status"] for c in listed}
        for client_id, statuses in self.statuses.items():
            assert found.get(client_id) in statuses, (client_id, found.get(client_id), statuses)
        for client_id, token in self.tokens.items():
            assert invoke(stack, token).status == 200, client_id


def clients(stack: RunningStack) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = []
    token = ""
    for _ in range(100):
        page = admin(stack, "GET", f"{CLIENTS}?limit=100" + (f"&next_token={token}" if token else ""))
        assert page.status == 200, page
        listed += page.body["items"]
        token = page.body.get("next_token") or ""
        if not token:
            break
    return listed


def invoke(stack: RunningStack, token: str) -> HttpResult:
    return request("GET", f"{stack.url}/invoke", headers={"Authorization": token})


Step = Callable[[RunningStack, Ledger, int], None]


def survives_kills(state: Path, setup: Step, operation: Step) -> tuple[list[str], Ledger]:
    """Run ``operation`` once per write boundary, killed there; the boundaries it was killed at."""
    ledger = Ledger()
    first = start_stack(state, ENV, ARGS)
    try:
        setup(first, ledger, 0)
    finally:
        assert first.stop() == 0, first.output()
    killed_at: list[str] = []
    for attempt in range(1, 12):
        # Checked on a stack of its own: using a token writes its last use (when the container ends,
        # for its first decision), a boundary of its own.
        checker = start_stack(state, ENV, ARGS)
        try:
            ledger.check(checker)
        finally:
            assert checker.stop() == 0, checker.output()
        stack = start_stack(state, {**ENV, "FAULTY_STACK_KILL_AT": str(attempt)}, ARGS, module=FAULTY)
        try:
            operation(stack, ledger, attempt)
            killed = False
        except (OSError, http.client.HTTPException):
            killed = True  # the connection died with the process: nothing was acknowledged
        finally:
            code = stack.stop()
        if not killed:
            # Done before its N-th boundary; stopping may reach it (the authorizers' usage counts).
            assert code in (0, -signal.SIGKILL), stack.output()
            break
        assert code == -signal.SIGKILL, stack.output()
        killed_at += [line[len(KILLED_PREFIX) :].strip() for line in stack.stderr if line.startswith(KILLED_PREFIX)]
    final = start_stack(state, ENV, ARGS)
    try:
        ledger.check(final)
    finally:
        assert final.stop() == 0, final.output()
    return killed_at, ledger


def boundaries(*rows: str) -> list[str]:
    return ["begin", *rows, "commit", "committed"]


#: What every change adds to its transaction: its digest index item, the feed's counter and entry.
INDEXED = ("item", "item", "item")


def assert_one_transaction(killed_at: list[str], *rows: str) -> None:
    """One transaction holding exactly ``rows`` (in any order)."""
    assert killed_at[0] == "begin" and killed_at[-2:] == ["commit", "committed"], killed_at
    assert sorted(killed_at[1:-2]) == sorted(rows), killed_at


def _issue(name: str, **fields: Any) -> Step:
    def step(stack: RunningStack, ledger: Ledger, _attempt: int) -> None:
        ledger.issued(admin(stack, "POST", CLIENTS, {"client_name": name, "grace_seconds": 3600, **fields}))

    return step


def _many(prefix: str, count: int, *, revoked: bool = False) -> Step:
    def step(stack: RunningStack, ledger: Ledger, attempt: int) -> None:
        for n in range(1, count + 1):
            client_id = ledger.issued(admin(stack, "POST", CLIENTS, {"client_name": f"{prefix}{n}"}))
            if revoked:
                assert admin(stack, "DELETE", f"{CLIENTS}/{client_id}").status == 200
                ledger.statuses[client_id] = {"revoked"}
                del ledger.tokens[client_id]

    return step


def test_an_issue_killed_at_any_boundary(tmp_path: Path) -> None:
    def issue(stack: RunningStack, ledger: Ledger, attempt: int) -> None:
        ledger.issued(admin(stack, "POST", CLIENTS, {"client_name": f"c{attempt}"}))

    killed_at, ledger = survives_kills(tmp_path / "state", _issue("first"), issue)
    assert_one_transaction(killed_at, "item", "secret", *INDEXED)  # the claim, the secret
    assert len(ledger.statuses) == 2


def test_a_rotation_killed_at_any_boundary(tmp_path: Path) -> None:
    def rotate(stack: RunningStack, ledger: Ledger, _attempt: int) -> None:
        client_id = ledger.names["turned"]
        answer = admin(stack, "POST", f"{CLIENTS}/{client_id}/rotate")
        assert answer.status == 200, answer
        ledger.tokens[client_id] = answer.body["token"]

    killed_at, _ = survives_kills(tmp_path / "state", _issue("turned"), rotate)
    assert_one_transaction(killed_at, "secret", *INDEXED)


def test_a_revoke_killed_at_any_boundary(tmp_path: Path) -> None:
    def revoke(stack: RunningStack, ledger: Ledger, attempt: int) -> None:
        client_id = ledger.names[f"v{attempt}"]
        ledger.statuses[client_id] = {"active", "revoked"}
        ledger.tokens.pop(client_id)
        assert admin(stack, "DELETE", f"{CLIENTS}/{client_id}").status == 200
        ledger.statuses[client_id] = {"revoked"}

    killed_at, _ = survives_kills(tmp_path / "state", _many("v", 10), revoke)
    assert_one_transaction(killed_at, "secret", *INDEXED)


def test_a_restore_killed_at_any_boundary(tmp_path: Path) -> None:
    def restore(stack: RunningStack, ledger: Ledger, attempt: int) -> None:
        client_id = ledger.names[f"s{attempt}"]
        ledger.statuses[client_id] = {"revoked", "active"}
        answer = admin(stack, "POST", f"{CLIENTS}/{client_id}/restore")
        assert answer.status == 200, answer
        ledger.statuses[client_id] = {"active"}

    killed_at, _ = survives_kills(tmp_path / "state", _many("s", 10, revoked=True), restore)
    # The deletion cancelled, the one restore recorded, and the index and the feed.
    assert_one_transaction(killed_at, "secret", "item", *INDEXED)


def test_an_import_killed_at_any_boundary(tmp_path: Path) -> None:
    def take_over(stack: RunningStack, ledger: Ledger, attempt: int) -> None:
        token = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(40))
        answer = admin(
            stack, "POST", "/admin/imports", {"tenant": "acme", "client_name": f"i{attempt}", "token": token}
        )
        assert answer.status == 201, answer
        client_id = str(answer.body["client"]["client_id"])
        ledger.statuses[client_id] = {"active"}
        ledger.tokens[client_id] = token

    killed_at, ledger = survives_kills(tmp_path / "state", _issue("first"), take_over)
    assert_one_transaction(killed_at, "item", "secret", "secret", *INDEXED)  # the claim, the client, the keyring's map
    assert len(ledger.statuses) == 2


def test_quota_use_killed_at_any_boundary_is_never_given_back(tmp_path: Path) -> None:
    def use(stack: RunningStack, ledger: Ledger, _attempt: int) -> None:
        answer = invoke(stack, ledger.metered)
        assert answer.status in (200, 403), answer
        ledger.allowed += answer.status == 200

    def setup(stack: RunningStack, ledger: Ledger, attempt: int) -> None:
        _issue("metered", quota={"limit": QUOTA, "period": "day"})(stack, ledger, attempt)
        ledger.metered = ledger.tokens.pop(ledger.names["metered"])

    killed_at, ledger = survives_kills(tmp_path / "state", setup, use)
    # The lease on the period's counter; the client's last use is written after a container's first
    # decision (at its next one, or when it ends), outside this request's transaction.
    assert killed_at == boundaries("item"), "the lease on the period's counter"
    assert ledger.allowed >= 1
    final = start_stack(tmp_path / "state", ENV, ARGS)
    try:
        answers = [invoke(final, ledger.metered).status for _ in range(QUOTA + 1)]
    finally:
        assert final.stop() == 0, final.output()
    assert answers[-1] == 403
    assert ledger.allowed + answers.count(200) <= QUOTA, "a kill gave back quota that had been used"


# -- a full disk ------------------------------------------------------------------------------------------


def test_a_full_disk_answers_503_changes_nothing_and_loses_nothing(tmp_path: Path) -> None:
    state, full = tmp_path / "state", tmp_path / "disk-is-full"
    ledger = Ledger()
    stack = start_stack(state, {**ENV, "FAULTY_STACK_FULL": str(full)}, ARGS, module=FAULTY)
    try:
        kept = ledger.issued(admin(stack, "POST", CLIENTS, {"client_name": "kept", "grace_seconds": 3600}))
        metered = admin(stack, "POST", CLIENTS, {"client_name": "metered", "quota": {"limit": QUOTA, "period": "day"}})
        assert metered.status == 201, metered
        # Used once while there is room (a container's first decision: its last use is written later).
        assert invoke(stack, ledger.tokens[kept]).status == 200
        events = (state / EVENTS_FILE).read_text()

        full.touch()
        refused = [
            admin(stack, "POST", CLIENTS, {"client_name": "lost"}),
            admin(stack, "POST", f"{CLIENTS}/{kept}/rotate"),
            admin(stack, "DELETE", f"{CLIENTS}/{kept}"),
            invoke(stack, metered.body["token"]),  # the quota's lease cannot be saved: not allowed
        ]
        assert [r.status for r in refused] == [503] * 4, refused
        assert (state / EVENTS_FILE).read_text() == events, "no event for a change that did not happen"
        # kept is still active (its token is checked once there is room again: a container that
        # failed to save is replaced, and a new container writes the last use of its first decision
        # at its next one or when it ends)
        assert {c["client_id"]: c["status"] for c in clients(stack)}[kept] == "active"
        assert "lost" not in {c["client_name"] for c in clients(stack)}

        full.unlink()  # room again
        ledger.check(stack)
        ledger.issued(admin(stack, "POST", CLIENTS, {"client_name": "lost"}))  # the name was never taken
        assert invoke(stack, metered.body["token"]).status == 200
        full.touch()  # the usage counts of that request cannot be written either
        unsaved = flush_usage(stack)
        assert (unsaved.status, unsaved.body["code"]) == (503, "backend_unavailable"), unsaved
        full.unlink()
    finally:
        assert stack.stop() == 0, stack.output()
    assert "could not save a change (OperationalError: database or disk is full)" in "".join(stack.stderr)
    again = start_stack(state, ENV, ARGS)
    try:
        ledger.check(again)
    finally:
        assert again.stop() == 0, again.output()

"""docs/architecture.md states the reconciliation's schedule and drift bound with the constants the
code runs on, and the README's upgrade note names the command that builds the index."""

from __future__ import annotations

from pathlib import Path

from tokengate_core.deployment.functions import FUNCTIONS
from tokengate_core.lifecycle.reconcile import (
    DEADLINE_MARGIN_SECONDS,
    FULL_PASS_SECONDS,
    RECONCILE_INTERVAL_SECONDS,
    SETTLE_SECONDS,
)
from tokengate_core.lifecycle.sweep import READ_CONCURRENCY

REPO = Path(__file__).resolve().parents[3]


def text(name: str) -> str:
    return " ".join((REPO / name).read_text().split())


def test_the_architecture_states_the_drift_bound_the_code_runs_on() -> None:
    doc = text("docs/architecture.md")
    timeout = FUNCTIONS["sweep"].timeout_seconds
    bound = RECONCILE_INTERVAL_SECONDS + SETTLE_SECONDS + timeout
    assert f"every {RECONCILE_INTERVAL_SECONDS} s, `RECONCILE_INTERVAL_SECONDS`" in doc
    assert f"once every {FULL_PASS_SECONDS:,} s, `FULL_PASS_SECONDS`" in doc
    assert f"younger than {SETTLE_SECONDS} s (`SETTLE_SECONDS`" in doc
    assert f"{RECONCILE_INTERVAL_SECONDS} + {SETTLE_SECONDS} + {timeout} = {bound:,} s, {bound // 60} minutes" in doc
    assert f"sweep function's {timeout} s timeout" in doc
    assert f"stops starting clients {DEADLINE_MARGIN_SECONDS:g} s before its end" in doc
    assert READ_CONCURRENCY == 8 and "Eight clients at a time" in doc


def test_the_readme_tells_a_0_2_deployment_to_build_the_index() -> None:
    readme = text("README.md")
    assert "**Upgrading a deployment of 0.2**" in readme
    assert "denies every client that has no index item yet" in readme
    assert ".venv/bin/tokengate migrate" in readme
    assert f"every {RECONCILE_INTERVAL_SECONDS // 60} minutes" in readme

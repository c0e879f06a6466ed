"""docs/scaling.md is what the capacity model writes, so no figure in it can drift from the code."""

from __future__ import annotations

from pathlib import Path

from tokengate.capacity import scaling_doc
from tokengate.capacity.model import SECONDS_PER_MONTH, Prices, Workload

REPO = Path(__file__).resolve().parents[3]


def test_the_committed_document_is_the_generated_one() -> None:
    committed = (REPO / scaling_doc.DOC).read_text()
    assert committed == scaling_doc.render(), "run: python -m tokengate.capacity.scaling_doc"


def test_it_prices_a_sustained_call_over_the_month_it_defines() -> None:
    per_call_month = Prices().per_call * SECONDS_PER_MONTH  # $0.000005 x 2,628,000 s
    assert round(per_call_month, 2) == 13.14
    assert f"adds ${per_call_month:.2f} per month" in scaling_doc.render()


def test_it_states_the_deployed_defaults() -> None:
    w = Workload(rps=1, clients=1)
    text = " ".join(scaling_doc.render().split())
    assert f"the authorizer's {w.memory_mb} MB on {w.architecture}" in text
    assert "API Gateway's result cache off, as the stack deploys it while usage control is on" in text
    assert f'the "with" column shows the cache at {w.api_cache_ttl:g} s' in text


def test_main_writes_the_document(tmp_path: Path) -> None:
    target = tmp_path / "scaling.md"
    assert scaling_doc.main([str(target)]) == 0
    assert target.read_text() == scaling_doc.render()

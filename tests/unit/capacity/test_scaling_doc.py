"""docs/scaling.md is what the capacity model writes, so no figure in it can drift from the code."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from tokengate.capacity import scaling_doc
from tokengate.capacity.model import Workload
from tokengate.capacity.scaling_doc import num, usd
from tokengate.cli import main

REPO = Path(__file__).resolve().parents[3]


def test_the_committed_document_is_the_generated_one() -> None:
    committed = (REPO / scaling_doc.DOC).read_text()
    assert committed == scaling_doc.render(), "run: python -m tokengate.capacity.scaling_doc"


def test_it_states_the_deployed_defaults() -> None:
    w = Workload(rps=1, clients=1)
    text = " ".join(scaling_doc.render().split())
    assert f"the authorizer's {w.memory_mb} MB on {w.architecture}" in text
    assert f"({w.ttl:g} s while it reads the feed, {w.fallback_ttl:g} s without it" in text
    assert "API Gateway's result cache off, as the stack deploys it while usage control is on" in text


def worked_rows() -> list[list[str]]:
    """The worked-case table of the committed document, one list of cells per row."""
    lines = (REPO / scaling_doc.DOC).read_text().splitlines()
    start = lines.index("| " + " | ".join(scaling_doc.COLUMNS) + " |")
    rows: list[list[str]] = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            return rows
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_the_document_shows_the_issues_worked_cases() -> None:
    commands = [cells[0] for cells in worked_rows() if cells[0]]
    assert "`tokengate capacity --rps 1000 --clients 10000`" in commands
    assert "`tokengate capacity --rps 5000 --clients 100000`" in commands
    assert len(commands) == len(scaling_doc.CASES)


@pytest.mark.parametrize("index", range(len(scaling_doc.CASES)))
def test_each_worked_case_is_what_tokengate_capacity_prints(index: int, capsys: pytest.CaptureFixture[str]) -> None:
    rows = worked_rows()
    shared_row, before_row = rows[2 * index], rows[2 * index + 1]
    argv = shlex.split(shared_row[0].strip("`"))
    assert argv[0] == "tokengate"
    assert main([*argv[1:], "--output", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    s, b = data["shared"], data["before"]
    dynamodb = s["index_reads_per_s"] + s["consistent_reads_per_s"] + s["feed_reads_per_s"]
    assert shared_row[1:] == [
        "index + feed",
        f"{s['containers']:,}",
        num(dynamodb),
        num(s["keyring_reads_per_s"]),
        usd(s["backend"]),
        usd(s["request_path"]),
        f"{s['floor_ratio']:.3f}",
        f"{s['backend_share']:.2%}",
        usd(s["secrets"]),
        usd(s["authorizer_total"]),
        usd(s["http_api"]),
        f"{s['revocation_s']:g} s",
    ]
    assert before_row[1:] == [
        "0.2",
        f"{b['containers']:,}",
        "0",
        num(b["secrets_calls_per_s"]),
        usd(b["bill"]["secrets_api"]),
        usd(b["bill"]["request_path"]),
        f"{b['floor_ratio']:.3f}",
        f"{b['backend_share']:.2%}",
        usd(b["bill"]["secrets"]),
        usd(b["bill"]["authorizer_total"]),
        usd(b["bill"]["http_api"]),
        f"{b['revocation_s']:g} s",
    ]


def test_0_2s_figures_are_the_ones_0_2_printed() -> None:
    """The comparison column is 0.2's own plan: 885 GetSecretValue/s and $16,539 a month at 1,000
    req/s with 10,000 clients, 4,940/s and $109,708 at 5,000 req/s with 100,000."""
    rows = worked_rows()
    by_command = {rows[i][0]: rows[i + 1] for i in range(0, len(rows), 2)}
    mid = by_command["`tokengate capacity --rps 1000 --clients 10000`"]
    big = by_command["`tokengate capacity --rps 5000 --clients 100000`"]
    assert (mid[4], mid[10]) == ("885", "$16,539")
    assert (big[4], big[10]) == ("4,940", "$109,708")


def test_main_writes_the_document(tmp_path: Path) -> None:
    target = tmp_path / "scaling.md"
    assert scaling_doc.main([str(target)]) == 0
    assert target.read_text() == scaling_doc.render()

"""The local stack's events.jsonl: how events are written and followed."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from tokengate.local.event_log import EventLog, follow


def test_events_are_appended_one_line_each_readable_by_the_owner_only(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.jsonl")
    log.append([{"n": 1}, {"n": 2}])
    log.append([])
    log.append([{"n": 3}])
    assert (tmp_path / "events.jsonl").read_text() == '{"n":1}\n{"n":2}\n{"n":3}\n'
    assert (tmp_path / "events.jsonl").stat().st_mode & 0o777 == 0o600
    assert [e["n"] for e in follow(tmp_path / "events.jsonl", last=2, keep_following=False)] == [2, 3]
    assert list(follow(tmp_path / "events.jsonl", last=0, keep_following=False)) == []
    assert list(follow(tmp_path / "missing.jsonl", last=5, keep_following=False)) == []


def test_following_waits_for_whole_lines_and_starts_over_when_the_file_does(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text('{"n":1}\n{"n":')
    done = threading.Event()
    got: list[int] = []

    def reader() -> None:
        for event in follow(path, last=10, keep_following=True, poll_seconds=0.01, stopped=done.is_set):
            got.append(event["n"])

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    wait = time.monotonic() + 5
    while got != [1] and time.monotonic() < wait:
        time.sleep(0.01)
    with path.open("a") as handle:
        handle.write('2}\n{"n":3}\n')  # the half-written line completed
    while got != [1, 2, 3] and time.monotonic() < wait:
        time.sleep(0.01)
    path.write_text('{"n":9}\n')  # deleted and begun again: shorter than what was read
    while got[-1:] != [9] and time.monotonic() < wait:
        time.sleep(0.01)
    done.set()
    thread.join(timeout=5)
    assert got == [1, 2, 3, 9]
    assert json.loads(path.read_text()) == {"n": 9}


def test_an_event_after_a_torn_write_starts_on_a_line_of_its_own(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    log = EventLog(path)
    log.append([{"n": 1}])
    with path.open("a") as handle:
        handle.write('{"n": 2, "det')  # a write cut short: the disk filled, or the stack was killed
    log.append([{"n": 3}, {"n": 4}])
    assert path.read_text() == '{"n":1}\n{"n": 2, "det\n{"n":3}\n{"n":4}\n'


def test_a_reader_skips_and_reports_each_line_that_is_not_an_event(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b'{"n":1}\n{"n": 2, "det\n\xff\xfe garbage\n[1, 2]\n{"n":5}\n')
    bad: list[tuple[int, str]] = []
    got = [e["n"] for e in follow(path, last=10, keep_following=False, on_bad_line=lambda n, p: bad.append((n, p)))]
    assert got == [1, 5]
    assert [n for n, _ in bad] == [2, 3, 4]
    assert bad[0][1] == "not JSON (a torn or foreign line)" and bad[2][1] == "a JSON list, not an event"
    # The window of the last two: one bad line, one event.
    bad.clear()
    assert [
        e["n"] for e in follow(path, last=2, keep_following=False, on_bad_line=lambda n, p: bad.append((n, p)))
    ] == [5]
    assert [n for n, _ in bad] == [4]


def test_a_follower_reports_a_torn_line_once_the_next_event_completes_it(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text('{"n":1}\n{"n": 2, "det')
    log = EventLog(path)
    done = threading.Event()
    got: list[int] = []
    bad: list[int] = []

    def reader() -> None:
        follower = follow(
            path,
            last=10,
            keep_following=True,
            poll_seconds=0.01,
            stopped=done.is_set,
            on_bad_line=lambda n, _: bad.append(n),
        )
        for event in follower:
            got.append(event["n"])

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    log.append([{"n": 3}])
    wait = time.monotonic() + 5
    while got != [1, 3] and time.monotonic() < wait:
        time.sleep(0.01)
    done.set()
    thread.join(timeout=5)
    assert got == [1, 3] and bad == [2]


def test_events_tail_prints_the_events_and_reports_a_bad_line_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tokengate.cli import main

    (tmp_path / "events.jsonl").write_text(
        '{"detail-type":"Client Issued"}\n{"torn\n{"detail-type":"Client Revoked"}\n'
    )
    assert main(["events", "tail", "--no-follow", "-o", "json", "--state-dir", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    assert [json.loads(line)["detail-type"] for line in out.splitlines()] == ["Client Issued", "Client Revoked"]
    assert err == f"warning: {tmp_path / 'events.jsonl'}: line 2 skipped: not JSON (a torn or foreign line)\n"

"""The local stack's events.jsonl: how events are written and followed."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

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

"""The local stack's lifecycle events: every event the functions put on the (emulated) bus, one JSON
line each in ``<state dir>/events.jsonl``, in the shape EventBridge hands a rule's target.

The functions publish with real PutEvents calls to the embedded moto (no local-only branch in
them); the emulator hands each event moto accepted to :class:`EventLog`. ``tokengate events tail``
follows the file. Events hold no token and no digest (tokengate_core.lifecycle.events refuses them), but
the file is written like the rest of the state folder: readable by its owner only.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

EVENTS_FILE = "events.jsonl"


class EventLog:
    """Appends events to the file, one line each, as they come (from the emulator's threads).

    Every record starts on a line of its own: if the file does not end with a newline (a write
    that was cut short: a full disk, a kill), the next append begins with one, so a torn line
    never glues onto the next event. The torn line itself stays; readers skip it and say so."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def append(self, events: list[dict[str, Any]]) -> None:
        if not events:
            return
        data = "".join(json.dumps(event, separators=(",", ":"), sort_keys=True) + "\n" for event in events).encode()
        with self._lock:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    data = b"\n" + data
                while data:
                    data = data[os.write(fd, data) :]
            finally:
                os.close(fd)


#: Told of each line that is not an event: its line number in the file, and what is wrong.
BadLine = Callable[[int, str], None]


def _event(line: bytes, number: int, on_bad_line: BadLine) -> dict[str, Any] | None:
    try:
        event = json.loads(line)
    except ValueError:
        on_bad_line(number, "not JSON (a torn or foreign line)")
        return None
    if not isinstance(event, dict):
        on_bad_line(number, f"a JSON {type(event).__name__}, not an event")
        return None
    return event


def follow(
    path: Path,
    *,
    last: int,
    keep_following: bool,
    poll_seconds: float = 0.5,
    stopped: Callable[[], bool] = lambda: False,
    on_bad_line: BadLine = lambda _number, _problem: None,
) -> Iterator[dict[str, Any]]:
    """The file's last ``last`` events, then (``keep_following``) each new one as it is appended.
    A file that does not exist yet is waited for; one that shrank (deleted and begun again) is
    read from its start. A line without its newline yet is read again when complete; a complete
    line that is not an event (torn by a crash, or garbage) is skipped and reported to ``on_bad_line``."""
    position, number = 0, 0
    tail: deque[tuple[int, bytes]] = deque(maxlen=max(last, 1))
    if path.exists():
        with path.open("rb") as handle:
            for line in handle:
                if not line.endswith(b"\n"):
                    break  # written only in part: followed from here
                position += len(line)
                number += 1
                tail.append((number, line))
    for at, line in list(tail)[-last:] if last > 0 else []:
        if (event := _event(line, at, on_bad_line)) is not None:
            yield event
    while keep_following and not stopped():
        size = path.stat().st_size if path.exists() else 0
        if size < position:
            position, number = 0, 0
        if size > position:
            with path.open("rb") as handle:
                handle.seek(position)
                for line in handle:
                    if not line.endswith(b"\n"):
                        break  # written only in part: read it whole next time
                    position += len(line)
                    number += 1
                    if (event := _event(line, number, on_bad_line)) is not None:
                        yield event
            continue
        time.sleep(poll_seconds)

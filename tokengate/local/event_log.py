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
    """Appends events to the file, one line each, as they come (from the emulator's threads)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def append(self, events: list[dict[str, Any]]) -> None:
        if not events:
            return
        text = "".join(json.dumps(event, separators=(",", ":"), sort_keys=True) + "\n" for event in events)
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as handle:
                handle.write(text)


def follow(
    path: Path,
    *,
    last: int,
    keep_following: bool,
    poll_seconds: float = 0.5,
    stopped: Callable[[], bool] = lambda: False,
) -> Iterator[dict[str, Any]]:
    """The file's last ``last`` events, then (``keep_following``) each new one as it is appended.
    A file that does not exist yet is waited for; one that shrank (deleted and begun again) is
    read from its start. A line that is not JSON (a partial write) is read again when complete."""
    position = 0
    tail: deque[bytes] = deque(maxlen=max(last, 1))
    if path.exists():
        with path.open("rb") as handle:
            for line in handle:
                if not line.endswith(b"\n"):
                    break  # written only in part: followed from here
                position += len(line)
                tail.append(line)
    for line in list(tail)[-last:] if last > 0 else []:
        yield json.loads(line)
    while keep_following and not stopped():
        size = path.stat().st_size if path.exists() else 0
        if size < position:
            position = 0
        if size > position:
            with path.open("rb") as handle:
                handle.seek(position)
                for line in handle:
                    if not line.endswith(b"\n"):
                        break  # written only in part: read it whole next time
                    position += len(line)
                    yield json.loads(line)
            continue
        time.sleep(poll_seconds)

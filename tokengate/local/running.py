"""Whether a local stack is running on a state folder, and where its stage answers.

A running ``tokengate local`` holds an exclusive lock on ``<state dir>/.lock`` and, once it
listens, writes its stage URL to ``<state dir>/stage-url.json``, so a CLI that finds the state
folder (from any subfolder) finds the stack too, whatever port it was started on. The file is
removed when the stack stops; one left behind by a killed stack is ignored, because nobody holds
the lock. Importing this module loads nothing of the stack itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
from pathlib import Path
from urllib.parse import urlsplit

from tokengate.local.location import LOOPBACK

LOCK_FILE = ".lock"
STAGE_URL_FILE = "stage-url.json"


def publish_stage_url(state_dir: Path, url: str) -> None:
    """Record where the stage answers (atomically: a reader sees the old file or the new one)."""
    from tokengate.local.state import write_private

    write_private(state_dir / STAGE_URL_FILE, json.dumps({"url": url}) + "\n")


def withdraw_stage_url(state_dir: Path) -> None:
    (state_dir / STAGE_URL_FILE).unlink(missing_ok=True)


def running_stage_url(state_dir: Path) -> str | None:
    """The stage URL of the stack running on ``state_dir``, or None when none runs there (no file,
    a file nobody's lock vouches for, or anything but an http URL on loopback)."""
    try:
        url = json.loads((state_dir / STAGE_URL_FILE).read_text())["url"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(url, str) or not is_locked(state_dir):
        return None
    parts = urlsplit(url)
    return url if parts.scheme == "http" and parts.hostname in LOOPBACK else None


def is_locked(state_dir: Path) -> bool:
    """True while a stack holds the state folder's lock (a shared lock cannot be had then)."""
    try:
        handle = (state_dir / LOCK_FILE).open("r")
    except OSError:
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        with contextlib.suppress(OSError):
            fcntl.flock(handle, fcntl.LOCK_UN)
        return False

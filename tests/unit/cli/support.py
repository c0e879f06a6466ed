"""What the CLI's unit tests share: an endpoint nothing answers, the parser as main() runs it, and
an admin API that records what it was asked."""

from __future__ import annotations

import argparse
from typing import Any

from tokengate.cli.options import finish
from tokengate.cli.parser import build_parser

CLOSED = "http://127.0.0.1:9/dev"  # nothing listens on the discard port; no test here reaches it
DEPLOYED = "https://abc123.execute-api.eu-west-1.amazonaws.com/dev"
CLIENT_ID = "abcdefghij0123456789"  # a key id, so no name lookup


def parse(*argv: str) -> argparse.Namespace:
    return finish(build_parser().parse_args(argv))


class FakeApi:
    """What the admin API was asked, and a canned answer."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.calls: list[tuple[str, str, Any, Any]] = []

    def call(self, method: str, path: str, body: Any = None, *, query: Any = None) -> Any:
        self.calls.append((method, path, body, query))
        return self.answer

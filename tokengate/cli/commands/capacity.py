"""``tokengate capacity``: the capacity and cost plan (docs/scaling.md)."""

from __future__ import annotations

from tokengate import capacity
from tokengate.cli.options import Parents, Subcommands


def register(commands: Subcommands, p: Parents) -> None:
    capacity.register(commands)

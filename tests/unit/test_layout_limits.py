"""Every product module stays readable in one sitting: at most 450 lines, and no function over 80
(from its ``def`` to its last line). Tests and bench are exempt.

The modules and functions of ``tokengate/`` that are over a limit today are listed with their
current size: none may grow, none may be added, and one that comes under the limit must leave
the list, so the list only shrinks.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PRODUCT = ("services", "infra", "tokengate")
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 80
#: (module, function or None for the module itself) -> its size in lines today.
OVER_LIMIT: dict[tuple[str, str | None], int] = {
    ("tokengate/cli/commands/clients.py", None): 609,
    ("tokengate/cli/commands/clients.py", "register"): 195,
    ("tokengate/cli/commands/local.py", "register"): 112,
    ("tokengate/local/server.py", None): 467,
    ("tokengate/local/server.py", "start"): 93,
    ("tokengate/local/state.py", None): 451,
}


def _sizes() -> Iterator[tuple[tuple[str, str | None], int, int]]:
    """(module, function or None) -> (lines, limit), for every product module and function."""
    for folder in PRODUCT:
        for path in sorted((REPO / folder).rglob("*.py")):
            module = path.relative_to(REPO).as_posix()
            source = path.read_text(encoding="utf-8")
            yield (module, None), len(source.splitlines()), MAX_MODULE_LINES
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    assert node.end_lineno is not None
                    yield (module, node.name), node.end_lineno - node.lineno + 1, MAX_FUNCTION_LINES


def _describe(where: tuple[str, str | None], lines: int) -> str:
    module, function = where
    return f"{module}{'' if function is None else f':{function}()'} ({lines} lines)"


def test_no_product_module_or_function_is_over_its_limit() -> None:
    over = [_describe(where, lines) for where, lines, limit in _sizes() if lines > limit and where not in OVER_LIMIT]
    assert over == []


def test_the_listed_offenders_do_not_grow_and_leave_the_list_once_under_the_limit() -> None:
    sizes = {where: (lines, limit) for where, lines, limit in _sizes()}
    grown = [_describe(w, sizes[w][0]) for w, listed in OVER_LIMIT.items() if w in sizes and sizes[w][0] > listed]
    assert grown == []
    fixed = [_describe(w, sizes[w][0]) for w in OVER_LIMIT if w not in sizes or sizes[w][0] <= sizes[w][1]]
    assert fixed == [], "no longer over the limit: remove from OVER_LIMIT"
    assert all(module.startswith("tokengate/") for module, _ in OVER_LIMIT)

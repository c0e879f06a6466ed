"""Every error with a stable code (a TokengateError subclass) is defined in tokengate_core.errors:
one module is the list of codes a caller can meet, and the README's table is checked against it."""

from __future__ import annotations

import ast
from pathlib import Path

from tokengate_core import errors

REPO = Path(__file__).resolve().parents[2]
ERRORS_MODULE = REPO / "services" / "tokengate_core" / "errors.py"
#: Where product code lives; tests may subclass for their own fakes.
PRODUCT = ("services", "tokengate", "infra")


def _error_names() -> set[str]:
    return {name for name, value in vars(errors).items() if isinstance(value, type) and issubclass(value, Exception)}


def _base_names(node: ast.ClassDef) -> set[str]:
    names = set()
    for base in node.bases:
        if isinstance(base, ast.Name):
            names.add(base.id)
        elif isinstance(base, ast.Attribute):
            names.add(base.attr)
    return names


def test_every_coded_error_is_defined_in_the_errors_module() -> None:
    ours = _error_names() - {"Exception"}
    assert {"TokengateError", "ForbiddenError", "WeakTokenError", "RotationError"} <= ours
    elsewhere = []
    for folder in PRODUCT:
        for path in sorted((REPO / folder).rglob("*.py")):
            if path == ERRORS_MODULE:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ClassDef) and _base_names(node) & ours:
                    elsewhere.append(f"{path.relative_to(REPO)}:{node.lineno} {node.name}")
    assert elsewhere == []


def test_every_code_names_one_error_and_every_error_a_status() -> None:
    coded = [v for v in vars(errors).values() if isinstance(v, type) and issubclass(v, errors.TokengateError)]
    # Subclasses that share their parent's code are the parent's code in a narrower place.
    by_code: dict[str, set[int]] = {}
    for cls in coded:
        by_code.setdefault(cls.code, set()).add(cls.status)
        assert 400 <= cls.status < 600, cls
    assert all(len(statuses) == 1 for statuses in by_code.values()), by_code

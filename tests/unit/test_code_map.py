"""docs/architecture.md's map of the code, and the README's layout, are the tree's.

The code map lists every module of services/ and infra/ and every package and module at the top
of tokengate/, and nothing that is not there; the "where things live" table has a row for every
folder of tokengate_core and says which functions load each at cold start, as they do; the
README's layout names every function's folder and every folder of the domain."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

from tokengate import SERVICES_DIR
from tokengate_core.deployment.functions import FUNCTIONS

REPO = Path(__file__).resolve().parents[2]
ARCHITECTURE = REPO / "docs" / "architecture.md"
CORE = SERVICES_DIR / "tokengate_core"
#: The description column of the code map: an indented line that starts here continues the one above.
DESCRIPTION_COLUMN = 27

#: Imports each handler in turn, as its cold start does, and reports the tokengate_core modules it
#: loaded (third-party libraries stay loaded between handlers: they are not what is measured).
COLD_STARTS = """
import importlib, json, sys
sys.path.insert(0, sys.argv[1])
loaded = {}
for name in json.loads(sys.argv[2]):
    for module in [m for m in sys.modules if m.partition(".")[0] in ("tokengate_core", name)]:
        del sys.modules[module]
    importlib.import_module(f"{name}.app")
    loaded[name] = sorted(m for m in sys.modules if m.startswith("tokengate_core."))
print(json.dumps(loaded))
"""


def _section(title: str) -> str:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    start = text.index(f"### {title}\n")
    end = text.index("\n#", start + 1)
    return text[start:end]


def code_map() -> set[str]:
    """Every path the code map's tree names (``a|b`` in a name is two paths)."""
    block = _section("Code map").split("```")[1]
    listed: set[str] = set()
    parents: list[tuple[int, str]] = []
    for line in block.splitlines():
        indent = len(line) - len(line.lstrip())
        if not line.strip() or indent >= DESCRIPTION_COLUMN:
            continue
        name = line.split()[0]
        while parents and parents[-1][0] >= indent:
            parents.pop()
        base = parents[-1][1] if parents else ""
        head, _, last = name.rstrip("/").rpartition("/")
        for alternative in last.split("|"):
            listed.add(f"{base}{head + '/' if head else ''}{alternative}")
        if name.endswith("/"):
            parents.append((indent, f"{base}{name}"))
    return listed


def tree() -> set[str]:
    """What the map must list: services/ and infra/ module by module (package folders too), and
    tokengate/'s packages and top-level modules."""
    paths: set[str] = set()
    for folder in ("services", "infra"):
        for path in (REPO / folder).rglob("*.py"):
            if path.name != "__init__.py":
                paths.add(path.relative_to(REPO).as_posix())
    paths |= {p.relative_to(REPO).as_posix() for p in CORE.iterdir() if (p / "__init__.py").exists()}
    for path in (REPO / "tokengate").iterdir():
        if (path / "__init__.py").exists() or (path.suffix == ".py" and path.name != "__init__.py"):
            paths.add(path.relative_to(REPO).as_posix())
    return paths


def test_the_code_map_lists_every_module_and_only_what_exists() -> None:
    listed = code_map()
    assert sorted(tree() - listed) == [], "in the tree, missing from the code map"
    assert sorted(p for p in listed if not (REPO / p).exists()) == [], "in the code map, not in the tree"


@cache
def cold_starts() -> dict[str, set[str]]:
    """function -> the tokengate_core modules (relative to it, ``tokens/format.py``) it loads at import."""
    env = {"PATH": os.environ.get("PATH", ""), "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}
    command = [sys.executable, "-B", "-c", COLD_STARTS, str(SERVICES_DIR), json.dumps(list(FUNCTIONS))]
    result = subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    loaded: dict[str, list[str]] = json.loads(result.stdout)
    loads: dict[str, set[str]] = {}
    for function, modules in loaded.items():
        relative = [m.removeprefix("tokengate_core.").replace(".", "/") for m in modules]
        # Modules only: a package's own __init__ imports nothing.
        loads[function] = {f"{m}.py" for m in relative if not (CORE / m).is_dir()}
    return loads


def where_things_live() -> tuple[set[str], dict[str, str]]:
    """The modules the text says every function loads, and each row's folder -> imported by."""
    section = _section("Where things live")
    intro, _, table = section.partition("\n|")
    common = set(re.findall(r"`([a-z_/]+\.py)`", intro))
    rows = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = cells[2]
    return common, rows


def test_the_where_things_live_table_says_which_functions_load_each_folder() -> None:
    common, rows = where_things_live()
    loads = cold_starts()
    assert set(loads) == set(FUNCTIONS)
    assert common == set.intersection(*loads.values())
    folders = {p.name + "/" for p in CORE.iterdir() if (p / "__init__.py").exists()}
    modules = {p.name for p in CORE.glob("*.py") if p.name != "__init__.py"}
    assert set(rows) == folders | modules | {"tokengate/", "infra/"}
    for folder, imported_by in rows.items():
        users = [f for f in FUNCTIONS if any(m.startswith(folder) for m in loads[f] - common)]
        assert imported_by == (", ".join(users) or "none"), folder


def test_the_readmes_layout_names_every_function_and_domain_folder() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = text[text.index("### Layout\n") :].split("```")[1]
    named = {word for line in block.splitlines() for word in line.split() if word.endswith(("/", ".py"))}
    domain = {p.name + "/" for p in CORE.iterdir() if (p / "__init__.py").exists()}
    domain |= {p.name for p in CORE.glob("*.py") if p.name != "__init__.py"}
    assert {f"{name}/" for name in FUNCTIONS} | domain <= named
    places = (REPO, SERVICES_DIR, CORE)
    assert sorted(n for n in named if not any((place / n).exists() for place in places)) == []

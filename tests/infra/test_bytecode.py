"""Every function's asset carries checked-hash bytecode for the runtime's Python, for every module.

What is checked is what the runtime's importer checks before it uses a ``.pyc`` (PEP 3147 for the
file's place and name, PEP 552 for its header): the magic number of the runtime's Python version,
the checked-hash flags, and the hash of the very source file beside it. A file that fails any of
these would be ignored in Lambda (and the module compiled at every cold start), never run.
"""

from __future__ import annotations

import _imp
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from infra.bytecode import MAGIC_NUMBERS, SCRIPT, BytecodeError, cache_tag, compile_asset, runtime_version
from infra.functions import RUNTIME
from tests.infra.test_handler_imports import function_asset
from tokengate_core.deployment.functions import FUNCTIONS

pytestmark = [pytest.mark.infra, pytest.mark.xdist_group("infra")]
VERSION = runtime_version(RUNTIME.name)
CHECKED_HASH = 0b11  # PEP 552: hash-based, and checked against the source


def pyc_problem(source: Path) -> str | None:
    """Why the runtime would not use the .pyc beside ``source`` (None: it would)."""
    pyc = source.parent / "__pycache__" / f"{source.stem}.{cache_tag(VERSION)}.pyc"
    if not pyc.is_file():
        return "missing"
    header = pyc.read_bytes()[:16]
    magic = MAGIC_NUMBERS[VERSION].to_bytes(2, "little") + b"\r\n"
    if header[:4] != magic:
        return f"magic {header[:4]!r}"
    if int.from_bytes(header[4:8], "little") != CHECKED_HASH:
        return "not checked-hash"
    if header[8:16] != _imp.source_hash(int.from_bytes(magic, "little"), source.read_bytes()):
        return "hash of another source"
    return None


def test_the_runtime_is_a_python_whose_bytecode_the_build_makes() -> None:
    assert VERSION in MAGIC_NUMBERS and cache_tag(VERSION) == f"cpython-{VERSION.replace('.', '')}"


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_every_module_of_the_asset_has_bytecode_the_runtime_uses(name: str, assembly_dir: Path) -> None:
    template = json.loads((assembly_dir / "TokenGate.template.json").read_text())
    asset = function_asset(assembly_dir, template, name)  # type: ignore[arg-type]
    sources = [p for p in asset.rglob("*.py") if "__pycache__" not in p.parts]
    assert len(sources) > 50
    problems = {str(p.relative_to(asset)): pyc_problem(p) for p in sources}
    assert {k: v for k, v in problems.items() if v is not None} == {}
    # Only the runtime's: no bytecode of this machine's Python reached the asset.
    assert {p.name.split(".")[-2] for p in asset.rglob("*.pyc")} == {cache_tag(VERSION)}


def test_a_changed_source_no_longer_matches_its_bytecode(tmp_path: Path) -> None:
    """The negative control: the check above tells a stale .pyc from a good one."""
    module = tmp_path / "m.py"
    module.write_text("VALUE = 1\n")
    compile_asset(tmp_path, VERSION)
    assert pyc_problem(module) is None
    module.write_text("VALUE = 2\n")
    assert pyc_problem(module) == "hash of another source"


def test_a_module_that_does_not_compile_stops_the_build(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("def f(:\n")
    message = r"^bytecode for Python 3\.\d+: broken\.py does not compile \(SyntaxError\)$"
    with pytest.raises(BytecodeError, match=message):
        compile_asset(tmp_path, VERSION)


def test_the_compiler_refuses_to_make_bytecode_for_another_python(tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node is not None
    done = subprocess.run([node, str(SCRIPT), str(tmp_path), "3.11"], capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert done.stderr.strip() == f"this compiler is Python {VERSION}, the runtime is Python 3.11"
    assert not list(tmp_path.rglob("*.pyc"))


def test_without_node_the_build_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    with pytest.raises(BytecodeError, match=r"node is not installed \(make install\)$"):
        compile_asset(tmp_path, VERSION)


def test_only_python_runtimes_have_a_version() -> None:
    assert runtime_version("python3.14") == "3.14"
    with pytest.raises(BytecodeError):
        runtime_version("nodejs22.x")
    with pytest.raises(BytecodeError, match="no known magic number"):
        compile_asset(Path("."), "2.7")

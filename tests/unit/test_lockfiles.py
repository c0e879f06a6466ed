"""The lockfiles agree with pyproject.toml and with each other, so `make run`, `make test` and the
wheel get what the project declares (regenerate both with `make lock`)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)(?:\s*;\s*([^\\]+?))?\s*\\?$", re.MULTILINE)


def pins(name: str) -> dict[str, Version]:
    text = (REPO / "requirements" / name).read_text()
    """The pins that apply here (a universal lock may pin a package per Python version or platform)."""
    matches = list(PIN.finditer(text))
    pinned_lines = [line for line in text.splitlines() if "==" in line and line[:1].isalnum()]
    assert matches and len(matches) == len(pinned_lines), f"unparsed pins in {name}"
    found: dict[str, Version] = {}
    for match in matches:
        if match[3] is None or Marker(match[3]).evaluate():
            assert canonicalize_name(match[1]) not in found, f"two pins of {match[1]} apply here"
            found[canonicalize_name(match[1])] = Version(match[2])
    return found


def project() -> dict[str, object]:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def check(requirements: list[str], locked: dict[str, Version], lock: str) -> None:
    for text in requirements:
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{requirement} is not in {lock}: run make lock"
        assert requirement.specifier.contains(locked[name], prereleases=True), (
            f"{lock} pins {name}=={locked[name]}, outside {requirement.specifier}: run make lock"
        )


def test_the_run_lock_holds_the_runtime_and_build_requirements() -> None:
    meta = project()
    check([*meta["project"]["dependencies"], *meta["build-system"]["requires"]], pins("run.txt"), "run.txt")  # type: ignore[index]


def test_the_dev_lock_holds_every_extra() -> None:
    meta = project()
    extras = meta["project"]["optional-dependencies"]  # type: ignore[index]
    everything = [*meta["project"]["dependencies"], *meta["build-system"]["requires"]]  # type: ignore[index]
    check([*everything, *(r for group in extras.values() for r in group)], pins("dev.txt"), "dev.txt")


def test_running_and_testing_use_the_same_versions() -> None:
    run, dev = pins("run.txt"), pins("dev.txt")
    assert {name: version for name, version in run.items() if dev.get(name) != version} == {}
    assert len(run) < len(dev)  # running needs far less than testing


def test_every_pin_has_hashes() -> None:
    for name in ("run.txt", "dev.txt"):
        text = (REPO / "requirements" / name).read_text()
        entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
        assert entries and all("--hash=sha256:" in entry for entry in entries), name

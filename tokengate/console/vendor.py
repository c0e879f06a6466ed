"""The console's browser libraries: copied from node_modules (package.json pins them, package-lock.json
holds their hashes, ``npm ci`` installs them) into ``static/vendor``, where they are committed, so
the wheel carries them and the console works offline with no build step.

``make console-vendor`` (``python -m tokengate.console.vendor``) copies them and writes
``static/vendor/VENDOR.json``: each file's package, version, source path, SHA-256 and license file.
``--check`` only compares, and a test runs it: a committed file that differs from its package's
copy, or a pin that moved without a new copy, fails.

The UMD builds are used: a classic ``<script src>`` each, with no bare module specifier to resolve,
hence no import map (an inline script the Content-Security-Policy would have to allow).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path
from typing import NamedTuple

VENDOR_DIR = Path(__file__).resolve().parent / "static" / "vendor"
MANIFEST = "VENDOR.json"


class Vendored(NamedTuple):
    package: str
    source: str  # inside the package
    target: str  # inside static/vendor
    license: str  # the package's license file


FILES = (
    Vendored("preact", "dist/preact.min.umd.js", "preact.min.umd.js", "LICENSE"),
    Vendored("preact", "hooks/dist/hooks.umd.js", "preact-hooks.umd.js", "LICENSE"),
    Vendored("htm", "dist/htm.umd.js", "htm.umd.js", "LICENSE"),
    Vendored("chart.js", "dist/chart.umd.min.js", "chart.umd.min.js", "LICENSE.md"),
)
#: Packages bundled inside a vendored file, whose license goes along: Chart.js's UMD build carries
#: @kurkle/color (its own dependency, MIT).
BUNDLED_LICENSES = (("@kurkle/color", "LICENSE.md"),)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _version(node_modules: Path, package: str) -> str:
    return str(json.loads((node_modules / package / "package.json").read_text())["version"])


def _license_target(package: str) -> str:
    return package.strip("@").replace("/", "-") + ".LICENSE"


def _licenses() -> list[tuple[str, str]]:
    """(package, license file) for every license copied, each once."""
    return list(dict.fromkeys([*((item.package, item.license) for item in FILES), *BUNDLED_LICENSES]))


def manifest(node_modules: Path) -> dict[str, object]:
    """What VENDOR.json says for these node_modules."""
    return {
        "about": "Copied by `make console-vendor` from node_modules (package.json, package-lock.json); do not edit.",
        "files": [
            {
                "file": item.target,
                "package": item.package,
                "version": _version(node_modules, item.package),
                "source": item.source,
                "sha256": _sha256(node_modules / item.package / item.source),
                "license": _license_target(item.package),
            }
            for item in FILES
        ],
        "licenses": [
            {"file": _license_target(package), "package": package, "version": _version(node_modules, package)}
            for package, _ in _licenses()
        ],
    }


def copy(node_modules: Path, vendor_dir: Path = VENDOR_DIR) -> None:
    vendor_dir.mkdir(parents=True, exist_ok=True)
    for item in FILES:
        shutil.copyfile(node_modules / item.package / item.source, vendor_dir / item.target)
    for package, license_file in _licenses():
        shutil.copyfile(node_modules / package / license_file, vendor_dir / _license_target(package))
    (vendor_dir / MANIFEST).write_text(json.dumps(manifest(node_modules), indent=2) + "\n")


def differences(node_modules: Path, vendor_dir: Path = VENDOR_DIR) -> list[str]:
    """Where the committed copies differ from node_modules (empty: they are current)."""
    found = []
    recorded = (vendor_dir / MANIFEST).read_text() if (vendor_dir / MANIFEST).exists() else ""
    if recorded != json.dumps(manifest(node_modules), indent=2) + "\n":
        found.append(f"{MANIFEST} does not match node_modules")
    copies = [(item.package, item.source, item.target) for item in FILES]
    copies += [(package, name, _license_target(package)) for package, name in _licenses()]
    for package, source, target in copies:
        committed = vendor_dir / target
        if not committed.exists() or _sha256(committed) != _sha256(node_modules / package / source):
            found.append(f"{target} differs from {package}/{source}")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tokengate.console.vendor", description=__doc__)
    parser.add_argument("--node-modules", type=Path, default=Path("node_modules"))
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 if anything differs")
    args = parser.parse_args(argv)
    if args.check:
        found = differences(args.node_modules)
        print("\n".join(found) or "the console's vendored files are current")
        return 1 if found else 0
    copy(args.node_modules)
    print(f"copied {len(FILES)} files into {VENDOR_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

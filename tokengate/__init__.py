"""tokengate's CLI and local stack (the Lambda code itself lives under services/, the CDK app
under infra/).

Those two are import roots of their own: Lambda puts services/ on the path, and infra/ is a
top-level package. In a checkout they sit beside this package; a wheel carries them inside it
(``tokengate/_bundle``, see setup.py), so an installed ``tokengate`` runs the same handler code.
"""

from __future__ import annotations

import sys
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
_BUNDLE_DIR = _PACKAGE_DIR / "_bundle"
#: Where services/ and infra/ are: the checkout, or their copy in an installed wheel.
SOURCE_ROOT = _BUNDLE_DIR if _BUNDLE_DIR.is_dir() else _PACKAGE_DIR.parent
#: The Lambda asset root. The local stack imports handlers from here exactly as Lambda does.
SERVICES_DIR = SOURCE_ROOT / "services"


def use_services_path() -> None:
    if str(SERVICES_DIR) not in sys.path:
        sys.path.insert(0, str(SERVICES_DIR))


def use_infra_path() -> None:
    """Make ``infra`` importable (the CLI reads its CDK-free modules: outputs, settings, tenant
    policy). Appended, so it never shadows an installed package."""
    use_services_path()
    if str(SOURCE_ROOT) not in sys.path:
        sys.path.append(str(SOURCE_ROOT))

"""tokengate's CLI and local stack (the Lambda code itself lives under services/)."""

from __future__ import annotations

import sys
from pathlib import Path

#: The Lambda asset root. The local stack imports handlers from here exactly as Lambda does.
SERVICES_DIR = Path(__file__).resolve().parent.parent / "services"


def use_services_path() -> None:
    if str(SERVICES_DIR) not in sys.path:
        sys.path.insert(0, str(SERVICES_DIR))

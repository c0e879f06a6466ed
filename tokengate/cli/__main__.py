"""``python -m tokengate.cli``: what the installed ``tokengate`` script runs."""

from __future__ import annotations

import sys

from tokengate.cli import main

status = main()
sys.stdout.flush()
raise SystemExit(status)

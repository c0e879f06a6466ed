"""``python -m tokengate.cli``: what the installed ``tokengate`` script runs."""

from __future__ import annotations

from tokengate.cli import main

raise SystemExit(main())

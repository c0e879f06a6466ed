"""docs/console.md's screenshots are of the pages as they are: each page's outline (its structure,
no text) matches the one recorded when the pictures were taken (`make console-screenshots`)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.e2e.console.screenshots import DOCS, OUTLINE_FILE, SHOTS, outlines
from tests.e2e.harness import REPO

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def test_the_screenshots_show_the_pages_as_they_are(browser: Any) -> None:
    recorded = json.loads(OUTLINE_FILE.read_text())
    assert outlines(browser, write_pictures=False) == recorded, (
        "the console's pages changed: run `make console-screenshots`"
    )


def test_every_screenshot_is_in_the_docs_and_one_in_the_readme() -> None:
    guide = (REPO / "docs" / "console.md").read_text()
    shown = set(re.findall(r"\]\(console/([a-z]+)\.png\)", guide))
    assert shown == {shot.name for shot in SHOTS} == {p.stem for p in DOCS.glob("*.png")}
    assert len(re.findall(r"\]\(docs/console/[a-z]+\.png\)", (REPO / "README.md").read_text())) == 1

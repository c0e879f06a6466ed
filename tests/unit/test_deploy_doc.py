"""docs/deploy.md and the README as a newcomer runs them: the CDK through the pinned toolchain,
every `make` target they name exists, and what deleting the stack needs is read before it goes."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
#: The venv's bin directory first on PATH, as the Makefile's CDK targets put it.
PINNED = re.compile(r'PATH="\$PWD/\.venv/bin:\$PATH" npx cdk ')


def commands(text: str) -> list[str]:
    """Each line of the text's bash blocks, without its comment, continuation lines joined."""
    blocks: list[list[str]] = []
    current: list[str] | None = None
    for line in text.splitlines():
        fence = line.strip()
        if fence.startswith("```"):
            if current is not None:
                blocks.append(current)
                current = None
            elif fence in ("```bash", "```sh"):
                current = []
        elif current is not None:
            current.append(line)
    lines: list[str] = []
    for block in blocks:
        for line in "\n".join(block).replace("\\\n", " ").splitlines():
            code = re.sub(r"(^|\s)#.*$", "", line).strip()
            if code:
                lines.append(code)
    return lines


def makefile_targets() -> set[str]:
    return set(re.findall(r"^([a-z][a-z-]*):", (REPO / "Makefile").read_text(), re.MULTILINE))


def test_every_cdk_command_runs_the_pinned_cli_with_the_virtualenvs_python() -> None:
    """A bare `npx cdk` on a fresh clone fetches an unpinned CDK and runs the app with a Python
    that has no aws_cdk: the docs go through make or put .venv/bin on PATH first."""
    for path in DOCS:
        for line in commands(path.read_text()):
            if "npx cdk" in line:
                assert PINNED.search(line), f"{path.name}: {line}"


def test_every_make_target_the_docs_run_exists() -> None:
    targets = makefile_targets()
    assert "bootstrap" in targets
    for path in DOCS:
        for line in commands(path.read_text()):
            for target in re.findall(r"(?:^|&&\s*|;\s*)make ([a-z][a-z-]*)", line):
                assert target in targets, f"{path.name}: make {target}"


def test_deleting_the_stack_reads_what_the_cleanup_needs_before_the_stack_is_gone() -> None:
    text = (REPO / "docs" / "deploy.md").read_text()
    section = text[text.index("## Delete the stack") :]
    section = section[: section.index("\n## ", 1)] if "\n## " in section[1:] else section
    lines = commands(section)
    destroy = next(i for i, line in enumerate(lines) if line.startswith("make destroy"))
    reads = [i for i, line in enumerate(lines) if "aws cloudformation" in line]
    assert reads and max(reads) < destroy, "every read of the stack comes before make destroy"
    # What the cleanup uses afterwards is what was read before.
    assigned = {name for line in lines[:destroy] for name in re.findall(r"\b([A-Z_]+)=\$\(", line)}
    used = {name for line in lines[destroy + 1 :] for name in re.findall(r'"\$([A-Z_]+)"', line)}
    assert used and used <= assigned, used - assigned


def test_the_token_status_header_is_promised_on_integration_responses_only() -> None:
    """API Gateway maps response parameters onto integration responses: its own 401, 403, 429 and
    5xx never carry the header, and the README must not promise it there."""
    readme = " ".join((REPO / "README.md").read_text().split())
    assert "Every response behind the authorizer carries" not in readme
    assert "Every response an integration behind the authorizer returns carries `Tokengate-Token-Status" in readme
    assert "API Gateway's own responses" in readme and "carry none" in readme

"""The documents' shell examples write nothing into the checkout: a token file there would show in
``git status``, one ``git add .`` away from a commit. Every file an example writes (``>``, ``>>``,
``tee``, ``mv``, ``cp``, ``curl -o``) is absolute or a path the example made with ``mktemp``; and,
should someone run them with a relative folder, git ignores each of those files' names."""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
_FENCE = re.compile(r"^```(bash|sh|shell)\n(.*?)^```", re.M | re.S)
_HEREDOC = re.compile(r"<<-?\s*'?(\w+)'?")
_TEMP_PATH = re.compile(r"^\s*(?:umask \d+;\s*)?(\w+)=\$\(mktemp\b", re.M)
_SEPARATORS = {"&&", "||", "|", ";", "&", "(", ")"}


def shell_lines(text: str) -> Iterator[str]:
    """Each command line of the document's shell blocks: continuations joined, comment lines (shown
    output) left out, and a heredoc's body too (in ``"$(cat <<EOF`` the command goes on after it)."""
    for match in _FENCE.finditer(text):
        lines = match.group(2).replace("\\\n", " ").splitlines()
        i = 0
        while i < len(lines):
            line, i = lines[i], i + 1
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            heredoc = _HEREDOC.search(line)
            if heredoc is not None:
                while i < len(lines) and lines[i].strip() != heredoc.group(1):
                    i += 1
                line, i = line[: heredoc.start()], i + 1
                if i < len(lines) and lines[i].startswith(")"):
                    line, i = line + lines[i], i + 1
            yield line


def commands(line: str) -> Iterator[list[str]]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    current: list[str] = []
    for token in lexer:
        if token in _SEPARATORS:
            if current:
                yield current
            current = []
        else:
            current.append(token)
    if current:
        yield current


def written_paths(command: list[str]) -> Iterator[str]:
    for i, token in enumerate(command[:-1]):
        if token in (">", ">>"):
            yield command[i + 1]
    words = [t for t in command if not t.startswith("-")]
    if words and words[0] in ("mv", "cp") and len(words) >= 3:
        yield words[-1]
    if words and words[0] == "tee":
        yield from words[1:]
    if command and command[0] == "curl":
        yield from (command[i + 1] for i, t in enumerate(command[:-1]) if t in ("-o", "--output"))


def writes(text: str) -> list[str]:
    return [path for line in shell_lines(text) for c in commands(line) for path in written_paths(c)]


def inside_the_checkout(text: str) -> list[str]:
    """What the examples of ``text`` write neither at an absolute path nor under a ``mktemp`` path."""
    made = set(_TEMP_PATH.findall(text))
    return [
        path
        for path in writes(text)
        if not path.startswith("/") and not re.match(rf"\$\{{?({'|'.join(made) or '(?!)'})\}}?(/|$)", path)
    ]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_no_example_writes_into_the_checkout(document: Path) -> None:
    assert inside_the_checkout(document.read_text()) == [], f"{document.name}: write these under a `mktemp -d` folder"


def test_the_check_sees_what_an_example_writes() -> None:
    """Each kind of write is found, shown output and heredoc bodies are not commands, and a
    ``mktemp`` path is told from the checkout."""
    text = "\n".join(
        [
            "```bash",
            "OUT=$(mktemp -d)   # comment > ignored.txt",
            'tokengate issue --output token > a.token && mv a.token "b.token"',
            "cmd >> c.log 2>&1; echo x | tee d.txt",
            'curl -s -o e.html "$API/invoke" -o /dev/null',
            "python - <<'EOF'",
            'print(open("f.txt", "w"))  # > inside a heredoc is Python',
            "EOF",
            "#   printed > output",
            'cp x "$OUT/g.token"; echo > "$HOME/h"; echo > "$OUTSIDE/i"',
            "```",
        ]
    )
    assert writes(text) == [
        *("a.token", "b.token", "c.log", "d.txt", "e.html", "/dev/null", "$OUT/g.token", "$HOME/h", "$OUTSIDE/i")
    ]
    assert inside_the_checkout(text) == ["a.token", "b.token", "c.log", "d.txt", "e.html", "$HOME/h", "$OUTSIDE/i"]


def test_git_ignores_every_file_an_example_writes() -> None:
    """The belt: run in the checkout by mistake, none of them would show in git status."""
    written = [path for doc in DOCUMENTS for path in writes(doc.read_text())]
    names = sorted({Path(path).name for path in written if "/" in path and not path.startswith("/dev/")})
    assert names, "the documents write token files"
    ignored = subprocess.run(
        ["git", "-C", str(REPO), "check-ignore", "--no-index", "--stdin"],
        input="\n".join(names) + "\n",
        capture_output=True,
        text=True,
        check=False,
    )
    assert sorted(ignored.stdout.split()) == names

"""What a docs page shows: its fenced blocks, the files it asks you to write, its command lines."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

FILE_LANGUAGES = ("python", "yaml")


def blocks(doc: Path, language: str) -> list[str]:
    """The text of every ```<language> block of ``doc``."""
    return re.findall(rf"```{language}\n(.*?)```", doc.read_text(encoding="utf-8"), flags=re.S)


def page_files(doc: Path) -> dict[str, str]:
    """The blocks that are files to write (python / yaml whose first line is ``# <relative path>``)."""
    files = {}
    for language in FILE_LANGUAGES:
        for block in blocks(doc, language):
            first = block.split("\n", 1)[0]
            if re.fullmatch(r"# [\w./-]+\.(py|yaml)", first):
                files[first[2:]] = block
    return files


def run_python_blocks(doc: Path) -> int:
    """Execute the page's Python blocks that are not files to write, in order; how many ran."""
    files = set(page_files(doc).values())
    ran = 0
    for block in blocks(doc, "python"):
        if block not in files:
            exec(compile(block, f"{doc}:python-block", "exec"), {})
            ran += 1
    return ran


def command_lines(doc: Path) -> list[str]:
    """Every shell line of the ```bash blocks, ``\\`` continuations joined, comment lines dropped."""
    lines = [c.strip() for b in blocks(doc, "bash") for c in b.replace("\\\n", " ").split("\n")]
    return [c for c in lines if c and not c.startswith("#")]


def commands(doc: Path) -> list[list[str]]:
    """:func:`command_lines` as shell words (trailing comments dropped)."""
    return [shlex.split(c, comments=True) for c in command_lines(doc)]

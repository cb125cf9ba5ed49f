"""Progress outside Lightning: plain lines off a terminal, a rich bar on one."""
from __future__ import annotations

import io
import re

from gazelm.progress import progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_lines_every_share_and_at_the_end(monkeypatch):
    stream = io.StringIO()
    with progress("rollout on tiny", total=10, unit="prompts", stream=stream, every=0.5) as advance:
        for n in (3, 3, 4):
            advance(n)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert re.fullmatch(r"rollout on tiny: 6/10 prompts \(60%\), \d+\.\d s, ETA \d+\.\d s", lines[0])
    assert re.fullmatch(r"rollout on tiny: 10/10 prompts \(100%\), \d+\.\d s", lines[1])


def test_plain_lines_on_a_terminal_in_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    stream = Terminal()
    with progress("saliency on tiny", total=2, unit="prompts", stream=stream) as advance:
        advance(2)
    assert stream.getvalue().startswith("saliency on tiny: 2/2 prompts (100%)")


def test_rich_bar_on_a_terminal(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    stream = Terminal()
    with progress("saliency on tiny", total=4, unit="prompts", stream=stream) as advance:
        advance(4)
    text = stream.getvalue()
    assert "saliency on tiny" in text and "4/4" in text and "\x1b[" in text  # drawn with terminal control codes
    assert "(100%)" not in text  # not the plain line

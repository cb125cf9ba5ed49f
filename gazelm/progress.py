"""Progress of a long loop outside Lightning: a rich bar on a terminal, plain lines otherwise.

``with progress("rollout on tiny-llama", total=164, unit="prompts") as advance: ... advance(8)``.
On a terminal (and without ``CI`` set) it draws a rich progress bar on stderr; piped, in CI or
in a SLURM log it prints one line every ``every`` of the total and one at the end
(``rollout on tiny-llama: 82/164 prompts (50%), 3.1 s, ETA 3.1 s``), so logs stay readable.
"""
from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from typing import Callable, Iterator, TextIO


def is_interactive(stream: TextIO) -> bool:
    """A terminal, and not CI (the same rule as the training progress bar)."""
    return bool(getattr(stream, "isatty", lambda: False)()) and not os.environ.get("CI")


def _plain(description: str, done: int, total: int, unit: str, elapsed: float) -> str:
    share = done / total if total else 1.0
    eta = f", ETA {elapsed / share - elapsed:.1f} s" if 0 < share < 1 else ""
    return f"{description}: {done}/{total} {unit} ({100 * share:.0f}%), {elapsed:.1f} s{eta}"


@contextmanager
def progress(description: str, total: int, unit: str = "items", stream: TextIO | None = None,
             every: float = 0.1) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n)``; see the module docstring. ``stream`` defaults to stderr."""
    stream = stream or sys.stderr
    if is_interactive(stream):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn(unit),
                   TimeRemainingColumn())
        with Progress(*columns, console=Console(file=stream)) as bar:
            task = bar.add_task(description, total=total)
            yield lambda n=1: bar.advance(task, n)
        return
    start, done = time.perf_counter(), 0
    step = max(1, int(total * every))
    next_report = step

    def advance(n: int = 1) -> None:
        nonlocal done, next_report
        done += n
        if done >= next_report or done >= total:
            print(_plain(description, done, total, unit, time.perf_counter() - start), file=stream, flush=True)
            while next_report <= done:
                next_report += step
            if done >= total:
                next_report = float("inf")

    yield advance

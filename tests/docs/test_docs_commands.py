"""Every command line the documentation shows is run by a test, in a cheap form (runner.py, commands.yaml)."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.docs.runner import (ROOT, Entry, Runner, check_command, delegated, describe, doc_commands, entries,
                               split_command)

ENTRIES = entries()


def _id(entry: Entry) -> str:
    return entry.command[:90]


def test_every_docs_command_has_an_entry_and_every_entry_a_docs_command() -> None:
    docs = doc_commands()
    table = {e.command: e for e in ENTRIES}
    owners = delegated()
    for page, test in owners.items():  # a page whose own test runs all its lines
        assert (ROOT / page).is_file() and Path(page).name in (ROOT / test).read_text(encoding="utf-8"), (page, test)
    uncovered = [f"{c}  ({', '.join(files)})" for c, files in docs.items()
                 if c not in table and not all(f in owners for f in files)]
    assert not uncovered, ("docs commands with no entry in tests/docs/commands.yaml (add one: check, run or "
                           "pending):\n  " + "\n  ".join(uncovered))
    stale = [e.command for e in ENTRIES if not e.hidden and not set(docs.get(e.command, [])) - set(owners)]
    assert not stale, "entries whose command no doc shows (update or remove them):\n  " + "\n  ".join(stale)
    assert len(table) == len(ENTRIES), "a command has two entries"
    for e in ENTRIES:
        assert [e.check, e.run is not None, e.pending is not None].count(True) == 1, e.command
    used = {name for e in ENTRIES for new in e.replace.values() for name in re.findall(r"\{sweep:(\w+)\}", new)}
    assert {e.name for e in ENTRIES if e.hidden} <= used, "a hidden entry no other entry needs"
    assert used <= {e.name for e in ENTRIES if e.run is not None}, "{sweep:<name>} of an entry that does not run"


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.check], ids=_id)
def test_docs_command_composes_and_passes_the_preflight(entry: Entry, data_dir) -> None:
    assert check_command(Runner.words(None, entry), entry.env) == []  # replace without {sweep:..} needs no runner


@pytest.mark.slow
@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.run is not None and not e.hidden], ids=_id)
def test_docs_command_runs(entry: Entry, doc_runner, data_dir) -> None:
    result = doc_runner.result(entry)
    assert result.process.returncode == 0, describe(result.process)


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_sweep_composes_and_passes_the_preflight(data_dir) -> None:
    printed = subprocess.run(["make", "-n", "sweep"], cwd=ROOT, capture_output=True, text=True, timeout=60).stdout
    line = next(line for line in printed.replace("\\\n", " ").splitlines() if " train -m " in line)
    words = split_command(line)
    assert words[0].endswith("gazelm") and words[1] == "train"
    assert check_command(["gazelm", *words[1:]], {}) == []

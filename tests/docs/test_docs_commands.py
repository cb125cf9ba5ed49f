"""Every command line the documentation shows is run by a test, in a cheap form (runner.py, commands.yaml)."""
from __future__ import annotations

import re
import shutil

import pytest

from tests.docs.runner import (ROOT, Entry, Runner, check_command, commands_outside_bash, delegated, delegated_to,
                               describe, doc_commands, doc_files, entries, make_train_lines)

ENTRIES = entries()
needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _id(entry: Entry) -> str:
    return entry.command[:90]


def unclassified(docs: dict[str, list[str]], table: list[Entry]) -> list[str]:
    """Docs lines that neither an entry nor a delegated page's own test runs."""
    known = {e.command for e in table}
    return [f"{c}  ({', '.join(files)})" for c, files in docs.items() if c not in known and not delegated_to(c, files)]


def test_every_docs_command_has_an_entry_and_every_entry_a_docs_command() -> None:
    docs = doc_commands()
    for page, owner in delegated().items():  # a page whose own test runs (some of) its lines
        assert (ROOT / page).is_file() and page.rsplit("/", 1)[-1] in (ROOT / owner.test).read_text("utf-8"), page
        assert owner.covers, page
    uncovered = unclassified(docs, ENTRIES)
    assert not uncovered, ("docs commands with no entry in tests/docs/commands.yaml (add one: check, run, covered "
                           "or pending):\n  " + "\n  ".join(uncovered))
    stale = [e.command for e in ENTRIES if not e.hidden and e.command not in docs]
    assert not stale, "entries whose command no doc shows (update or remove them):\n  " + "\n  ".join(stale)
    twice = [e.command for e in ENTRIES if not e.hidden and delegated_to(e.command, docs.get(e.command, []))]
    assert not twice, "entries for lines their page's own test already runs:\n  " + "\n  ".join(twice)
    assert len({e.command for e in ENTRIES}) == len(ENTRIES), "a command has two entries"
    for e in ENTRIES:
        assert [e.check, e.run is not None, e.covered is not None, e.pending is not None].count(True) == 1, e.command
    used = {name for e in ENTRIES for new in e.replace.values() for name in re.findall(r"\{sweep:(\w+)\}", new)}
    assert {e.name for e in ENTRIES if e.hidden} <= used, "a hidden entry no other entry needs"
    assert used <= {e.name for e in ENTRIES if e.run is not None}, "{sweep:<name>} of an entry that does not run"


def test_command_lines_are_in_bash_blocks() -> None:
    hidden = [f"{path.relative_to(ROOT)}: {line}" for path in doc_files()
              for line in commands_outside_bash(path.read_text(encoding="utf-8"))]
    assert not hidden, "command lines in a block not tagged ```bash (tag it, so these tests run them):\n  " + \
        "\n  ".join(hidden)
    assert commands_outside_bash("```\nOUT=x bash benchmarks/gpu_check.sh\ngazelm train: error: field 'x'\n```\n"
                                 "```text\ngazelm report SWEEP --out r\n```\n```bash\ngazelm train\n```") == [
        "OUT=x bash benchmarks/gpu_check.sh", "gazelm report SWEEP --out r"]


def test_an_unknown_command_on_a_docs_page_is_caught() -> None:
    docs = {"gazelm train brand_new=1": ["docs/experiments.md"],
            "gazelm eval predictions=P.txt references=R.txt": ["docs/fixate.md"],  # fixate's test takes train/report
            "gazelm train experiment=fixate_code brand_new=1": ["docs/fixate.md"]}
    assert unclassified(docs, ENTRIES) == ["gazelm train brand_new=1  (docs/experiments.md)",
                                           "gazelm eval predictions=P.txt references=R.txt  (docs/fixate.md)"]


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.covered], ids=_id)
def test_covered_elsewhere_names_what_runs_it(entry: Entry) -> None:
    where = entry.covered.split()[0]
    assert (ROOT / where).is_file(), f"{entry.command}: covered by {where}, which does not exist"


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.pending], ids=_id)
def test_pending(entry: Entry) -> None:
    pytest.xfail(entry.pending)  # listed in every run (pytest -rx), never passed


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.check], ids=_id)
def test_docs_command_composes_and_passes_the_preflight(entry: Entry, data_dir) -> None:
    if entry.words[0] == "make" and shutil.which("make") is None:
        pytest.skip("make is not installed")
    assert check_command(Runner.words(None, entry), entry.env) == []  # replace without {sweep:..} needs no runner


@pytest.mark.slow
@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.run is not None and not e.hidden], ids=_id)
def test_docs_command_runs(entry: Entry, doc_runner, data_dir) -> None:
    result = doc_runner.result(entry)
    assert result.process.returncode == 0, describe(result.process)


@needs_make
def test_make_sweep_composes_and_passes_the_preflight(data_dir) -> None:
    (line,) = make_train_lines("sweep")
    assert check_command(line, {}) == []

"""The command lines of the documentation, and how tests run them cheaply.

``doc_commands()`` extracts every command line of the fenced ```` ```bash ```` blocks of
README.md and docs/*.md (continuation lines joined, ``# comments`` dropped).
``commands.yaml`` (next to this file) maps each to a cheap way to run it:

* ``check: true`` — compose every job's config exactly as ``gazelm train`` (``-m``: as the
  sweep's launcher) would and run the preflight, in this process (GPU, SLURM and hub-model
  lines, long sweeps);
* ``run: [args]`` — run the line (``gazelm`` = this checkout, ``$VARS`` expanded) with ``args``
  appended (tiny data, ``debug=fdr``), outputs under a temporary directory; ``name`` lets other
  entries use its sweep directory (``{sweep:<name>}`` in ``replace``) and tests inspect its result;
* ``covered: <what>`` — run as written elsewhere (CI's ``.ci/run``, or the test file named);
* ``pending: <reason>`` — not covered yet (listed as expected failures, never silently passed).

``delegated`` names docs pages whose own test runs their command lines (in order, in one
folder, as the page builds on itself) and which lines it takes (``covers``: command prefixes).
A line of a delegated page that its test does not take needs an entry like any other.
"""
from __future__ import annotations

import functools
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
import yaml

from tests.conftest import real_data_dir

ROOT = Path(__file__).resolve().parents[2]
TABLE = Path(__file__).with_name("commands.yaml")
_FENCE = re.compile(r"^\s*```\s*(\w*)\s*$")


def doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def split_command(text: str) -> list[str]:
    """Shell words of one command line, a trailing ``# comment`` dropped."""
    lexer = shlex.shlex(text, posix=True)
    lexer.whitespace_split, lexer.commenters = True, "#"
    return list(lexer)


def commands_in(text: str) -> list[str]:
    """The command lines of the ```bash blocks of a Markdown text, normalised to single spaces."""
    out, in_bash, in_block, pending = [], False, False, ""
    for line in text.splitlines():
        fence = _FENCE.match(line)
        if fence:
            in_bash, in_block = (fence.group(1) == "bash", True) if not in_block else (False, False)
            continue
        if not in_bash:
            continue
        line = (pending + " " + line.strip()) if pending else line.strip()
        if line.endswith("\\"):
            pending = line[:-1].rstrip()
            continue
        pending = ""
        words = split_command(line)
        if words:
            out.append(" ".join(words))
    return out


_LOOKS_LIKE_A_COMMAND = re.compile(r"^(?:[A-Z_][A-Z0-9_]*=\S*\s+)*(?:gazelm (?:train|eval|align|report|gaze|export)(?=\s|$)"
                                   r"(?!\S*:)|bash \S+\.sh\b|python3? \S+\.py\b|make [a-z-]+\s*(?:#.*)?$)")


def commands_outside_bash(text: str) -> list[str]:
    """Lines of fenced blocks not tagged ``bash`` that look like command lines (the harness would miss them)."""
    out, lang, in_block = [], "", False
    for line in text.splitlines():
        fence = _FENCE.match(line)
        if fence:
            lang, in_block = (fence.group(1), True) if not in_block else ("", False)
        elif in_block and lang != "bash" and _LOOKS_LIKE_A_COMMAND.match(line.strip()):
            out.append(line.strip())
    return out


def doc_commands() -> dict[str, list[str]]:
    """Command → the documentation files that show it."""
    found: dict[str, list[str]] = {}
    for path in doc_files():
        for command in commands_in(path.read_text(encoding="utf-8")):
            found.setdefault(command, []).append(path.relative_to(ROOT).as_posix())
    return found


@dataclass
class Entry:
    command: str
    check: bool = False
    run: list[str] | None = None
    replace: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    name: str | None = None
    hidden: bool = False
    covered: str | None = None
    pending: str | None = None

    @property
    def words(self) -> list[str]:
        return split_command(self.command)


@dataclass
class Delegation:
    """A docs page whose own test module runs the page's lines that start with one of ``covers``,
    except the lines in ``skips`` (which need an entry)."""

    test: str
    covers: list[str]
    skips: list[str] = field(default_factory=list)

    def takes(self, command: str) -> bool:
        return command not in self.skips and any(
            command == c or command.startswith(c if c.endswith("/") else c + " ") for c in self.covers)


def delegated() -> dict[str, Delegation]:
    """Docs page → its own test (the lines it runs)."""
    table = yaml.safe_load(TABLE.read_text(encoding="utf-8")).get("delegated") or {}
    return {page: Delegation(**spec) for page, spec in table.items()}


def delegated_to(command: str, files: list[str]) -> list[str]:
    """The pages' own tests that run ``command`` (shown on ``files``)."""
    owners = delegated()
    return [owners[f].test for f in files if f in owners and owners[f].takes(command)]


def _flat(items: list) -> list[str]:
    return [str(x) for item in items for x in (_flat(item) if isinstance(item, list) else [item])]


def entries() -> list[Entry]:
    data = yaml.safe_load(TABLE.read_text(encoding="utf-8"))
    out = []
    for item in data["commands"]:
        if item.get("run") is not None:
            item = {**item, "run": _flat(item["run"])}  # YAML aliases of argument lists nest
        out.append(Entry(**item))
    return out


def make_train_lines(target: str) -> list[list[str]]:
    """The ``gazelm train`` command lines ``make <target>`` runs (``make -n``: printed, not run)."""
    printed = subprocess.run(["make", "-n", target], cwd=ROOT, capture_output=True, text=True, timeout=60,
                             check=True).stdout
    lines = [split_command(line) for line in printed.replace("\\\n", " ").splitlines() if "gazelm train" in line]
    return [["gazelm", *words[1:]] for words in lines if words and words[0].endswith("gazelm") and words[1] == "train"]


def check_command(words: list[str], env: dict[str, str]) -> list[str]:
    """Compose every job of a ``gazelm train`` line as the app would and run the preflight
    (a ``make <target>`` line: each ``gazelm train`` line of the target)."""
    if words[0] == "make":
        lines = make_train_lines(words[1])
        assert lines, f"check: make {words[1]} runs no gazelm train line"
        return [p for line in lines for p in check_command(line, env)]
    assert words[:2] == ["gazelm", "train"], f"check: only gazelm train and make lines: {' '.join(words)}"
    multirun = any(w in ("-m", "--multirun") for w in words)
    overrides = [w for w in words[2:] if w not in ("-m", "--multirun", "--dry-run")]
    return list(_check(multirun, tuple(overrides), tuple(sorted(env.items()))))


@functools.lru_cache(maxsize=None)  # a --dry-run line checks what the same line without it checks
def _check(multirun: bool, overrides: tuple[str, ...], env: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.types import RunMode

    from gazelm.config import conf_dir
    from gazelm.preflight import config_problems
    from gazelm.sweep import preflight_problems, sweep_job_overrides

    saved = {k: os.environ.get(k) for k, _ in env}
    os.environ.update(dict(env))
    try:
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
            loader = GlobalHydra.instance().config_loader()
            cfg = loader.load_configuration("train", list(overrides),
                                            run_mode=RunMode.MULTIRUN if multirun else RunMode.RUN)
            jobs = sweep_job_overrides(cfg) if multirun else None
            if jobs is None:
                return tuple(config_problems(cfg))
            return tuple(f"{p} (jobs {nums})" for p, nums in preflight_problems(cfg, jobs).items())
    finally:
        GlobalHydra.instance().clear()
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)


@dataclass
class Result:
    process: subprocess.CompletedProcess
    out_dir: Path  # the run or sweep directory of a gazelm train / align line


class Runner:
    """Runs table entries in bash under ``root`` (one folder each), each at most once."""

    def __init__(self, root: Path, cache_dir: Path):
        self.root, self.cache_dir = root, cache_dir
        self.by_name = {e.name: e for e in entries() if e.name}
        self.results: dict[str, Result] = {}

    def _slug(self, entry: Entry) -> str:
        return entry.name or re.sub(r"[^A-Za-z0-9]+", "_", entry.command)[:60]

    def words(self, entry: Entry) -> list[str]:
        """The line's words after ``replace`` (``{sweep:<name>}``: that entry's sweep directory)."""
        text = entry.command
        for old, new in entry.replace.items():
            for name in re.findall(r"\{sweep:(\w+)\}", new):
                new = new.replace(f"{{sweep:{name}}}", str(self.result(self.by_name[name]).out_dir))
            text = text.replace(old, new.replace("{data_dir}", str(real_data_dir())))
        return split_command(text)

    def _placement(self, entry: Entry, out_dir: Path) -> list[str]:
        words = entry.words
        if words[:2] not in (["gazelm", "train"], ["gazelm", "align"]) or "--dry-run" in words:
            return []
        multirun = any(w in ("-m", "--multirun") for w in words)
        extra = [f"hydra.sweep.dir={out_dir}"] if multirun else [f"hydra.run.dir={out_dir}"]
        if words[1] == "train":
            extra += [f"paths.log_dir={self.root / 'logs'}", f"paths.cache_dir={self.cache_dir}"]
        return extra

    def check(self, entry: Entry) -> list[str]:
        return check_command(self.words(entry), entry.env)

    def result(self, entry: Entry) -> Result:
        key = self._slug(entry)
        if key not in self.results:
            out_dir = self.root / key
            work = self.root / "work"
            work.mkdir(parents=True, exist_ok=True)
            if not (work / "scripts").exists():
                (work / "scripts").symlink_to(ROOT / "scripts")
            env = {**os.environ, "CI": "true", "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
                   "GAZELM_DATA_DIR": str(real_data_dir()), **entry.env}
            words = self.words(entry)
            for name, value in env.items():  # $GAZELM_DATA_DIR etc. as the user's shell would expand them
                words = [w.replace(f"${name}", value) for w in words]
            argv = [sys.executable, "-m", "gazelm.cli.main", *words[1:]] if words[0] == "gazelm" else words
            process = subprocess.run([*argv, *(entry.run or []), *self._placement(entry, out_dir)], cwd=work,
                                     env=env, capture_output=True, text=True, timeout=900)
            self.results[key] = Result(process, out_dir)
        return self.results[key]

    def named(self, name: str) -> Result:
        return self.result(self.by_name[name])


def describe(process: subprocess.CompletedProcess) -> str:
    return f"exit {process.returncode}\n--- stdout\n{process.stdout[-3000:]}\n--- stderr\n{process.stderr[-3000:]}"

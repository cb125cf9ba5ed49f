"""docs/metrics.md cannot drift: its Python blocks and shell commands run as written.

The commands run in one temporary folder, in order, with the files they name made there first:
``P.txt``/``R.txt`` (CodeXGLUE C# lines), ``P.jsonl`` (rows as training writes them),
``samples.jsonl`` (ten HumanEval samples per problem), the page's ``mylab/metrics.py``, and, for
the slow test, tiny models saved with ``save_pretrained`` under the local folder names the page
uses for hub models. ``gazelm eval predictions=...`` lines run in the fast test; training,
checkpoint and pretrained lines in the slow one, in a cheap form (a few examples and tokens).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.helpers.docs import commands, page_files, run_python_blocks
from tests.helpers.plugins import user_package

DOC = ROOT / "docs" / "metrics.md"
TRAIN_CHEAP = ["model.tokenizer.vocab_size=600", "trainer.max_epochs=1",
               "data.source.max_examples={train: 32, val: 4, test: 4}", "callbacks.generation.max_samples=2",
               "callbacks.generation.generation.max_new_tokens=8"]
EVAL_CHEAP = ["max_samples=2", "generation.max_new_tokens=8", "batch_size=2"]
pytestmark = pytest.mark.usefixtures("sandbox")  # pass@k lines run programs


def _is_predictions(command: list[str]) -> bool:
    return command[:2] == ["gazelm", "eval"] and any(a.startswith("predictions=") for a in command)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    from gazelm.data.sources.humaneval import humaneval_problems

    work = tmp_path_factory.mktemp("docs_metrics")
    refs = (data_dir / "codexglue-java-cs" / "test.java-cs.txt.cs").read_text(encoding="utf-8").splitlines()[:20]
    (work / "R.txt").write_text("\n".join(refs) + "\n", encoding="utf-8")
    (work / "P.txt").write_text("\n".join(r.replace("public ", "", 1) for r in refs) + "\n", encoding="utf-8")
    rows = [{"id": str(i), "prediction": p, "reference": r} for i, (p, r) in
            enumerate([("return a;", "return a;"), ("int x = 1;", "int x = 2;")])]
    (work / "P.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    problems = humaneval_problems()
    samples = [{"id": t, "prediction": [problems[t]["canonical_solution"]] * 3 + ["    return None\n"] * 7}
               for t in ("HumanEval/0", "HumanEval/53")]
    (work / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in samples), encoding="utf-8")
    user_package(work, page_files(DOC))  # the modules the page asks you to write
    return work


def _env(work: Path, data_dir: Path) -> dict[str, str]:
    return {**os.environ, "GAZELM_DATA_DIR": str(data_dir), "PYTHONPATH": f"{ROOT}{os.pathsep}{work}", "CI": "true",
            "PYTHONHASHSEED": "0", "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def test_python_blocks_run(workdir: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(workdir)
    assert run_python_blocks(DOC) == 2


def test_prediction_file_commands_run(workdir: Path, data_dir: Path) -> None:
    lines = [c for c in commands(DOC) if _is_predictions(c)]
    assert len(lines) >= 5
    for command in lines:
        r = subprocess.run(command, cwd=workdir, env=_env(workdir, data_dir), capture_output=True, text=True,
                           timeout=600)
        assert r.returncode == 0, (command, r.stderr[-3000:])
        assert json.loads(r.stdout.strip().splitlines()[-1])


def _save_tiny(kind: str, folder: Path, cache: Path) -> None:
    from gazelm.training import build_components
    from tests.helpers.compose import train_config

    model = {"seq2seq": "model=tiny_t5", "causal": "model=tiny_causal"}[kind]
    _, module = build_components(train_config(folder.parent / f"build-{folder.name}", cache, model,
                                              "model.tokenizer.vocab_size=600"))
    module.backbone.model.save_pretrained(folder)
    module.backbone.tokenizer.save_pretrained(folder)


def _cheap(command: list[str], cache: Path) -> list[str]:
    """The command with a few examples and tokens; a training run's cache is the tests' one."""
    if command[:2] == ["gazelm", "train"]:
        return [*command, *TRAIN_CHEAP, f"paths.cache_dir={cache}"]
    if any(a.startswith("overrides=") for a in command):
        return [*command, *EVAL_CHEAP]
    own, train = (command[:command.index("--")], command[command.index("--") + 1:]) if "--" in command \
        else (command, [])
    return [*own, *EVAL_CHEAP, "--", *train, f"paths.cache_dir={cache}", "data.source.max_examples.test=2"]


@pytest.mark.slow
def test_every_command_runs_in_order(workdir: Path, data_dir: Path, shared_cache: Path) -> None:
    for name, kind in (("codet5-small", "seq2seq"), ("qwen2.5-coder-0.5b", "causal")):
        _save_tiny(kind, workdir / "models" / name, shared_cache)
    for command in commands(DOC):
        if _is_predictions(command):
            continue  # the fast test runs these
        cheap = _cheap(command, shared_cache)
        r = subprocess.run(cheap, cwd=workdir, env=_env(workdir, data_dir), capture_output=True, text=True,
                           timeout=900)
        assert r.returncode == 0, (cheap, r.stderr[-3000:])

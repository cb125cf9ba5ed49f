"""Every command in docs/alignment.md runs as written, in a cheap form (few prompts, fast_dev_run).

The page's toy operator (its Python block and its YAML block) is written to a working directory
first, so "Adding an operator" is checked end to end. Commands marked ``# needs`` (a checkpoint
that is not available offline) are skipped. Each command runs in its own process (as a user's
shell would), from that working directory.
"""
from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from tests.helpers.cli import gazelm_subprocess
from tests.helpers.docs import command_lines, commands, page_files
from tests.helpers.plugins import UserPackage, user_package

pytestmark = pytest.mark.slow
DOC = Path(__file__).resolve().parents[2] / "docs" / "alignment.md"


def _commands() -> list[list[str]]:
    lines = zip(command_lines(DOC), commands(DOC))
    return [words for line, words in lines if words[0] == "gazelm" and "# needs" not in line]


def _cheap(argv: list[str], where: Path, shared_cache: Path) -> list[str]:
    keys = {a.split("=", 1)[0] for a in argv}
    if argv[1:2] == ["align"] and argv[2:3] != ["score"]:
        extra = [] if "max_prompts" in keys else ["max_prompts=3"]
        extra.append(f"hydra.sweep.dir={where}" if "-m" in argv else f"hydra.run.dir={where}")
    elif argv[1] == "train":
        extra = ["debug=fdr", "callbacks.alignment.max_examples=2", f"hydra.run.dir={where}",
                 f"paths.cache_dir={shared_cache}"]
    else:
        extra = []
    return [*argv[1:], *extra]


def _gazelm(args: list[str], workdir: Path) -> tuple[int, str, str]:
    env = UserPackage(workdir).env(OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", WANDB_MODE="disabled")
    proc = gazelm_subprocess(*args, cwd=workdir, env=env, timeout=900)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    files = page_files(DOC)
    assert sorted(files) == ["my_conf/operator/embedding_norm.yaml", "my_ops.py"]  # "Adding an operator"
    return user_package(tmp_path_factory.mktemp("docs"), files).root


def test_the_page_shows_the_commands_it_documents():
    shown = {" ".join(argv[:3]) for argv in _commands()}
    assert {"gazelm align score", "gazelm train callbacks=alignment"} <= shown
    assert sum(argv[:2] == ["gazelm", "align"] for argv in _commands()) >= 6


@pytest.mark.parametrize("index", range(len(_commands())))
def test_command_runs_as_written(index, workdir, data_dir, shared_cache):
    argv = _commands()[index]
    where = workdir / f"run{index}"
    if argv[1:3] == ["align", "score"]:  # scores what a previous run wrote
        status, _, err = _gazelm(_cheap(["gazelm", "align", "operators=[rollout]"], workdir / "first", shared_cache),
                                 workdir)
        assert status == 0, err[-2000:]
        (workdir / "human.jsonl").write_text((workdir / "first" / "human.jsonl").read_text())
        for name in ("my_method.jsonl", "other.jsonl"):
            (workdir / name).write_text((workdir / "first" / "attention.jsonl").read_text())
    status, out, err = _gazelm(_cheap(argv, where, shared_cache), workdir)
    assert status == 0, f"{shlex.join(argv)}\n{err[-3000:]}"
    if argv[1:3] == ["align", "score"]:
        assert (workdir / "results.csv").read_text().startswith("method,model,k,precision")
    elif argv[1] == "align" and "-m" not in argv:
        assert (where / "summary.csv").exists() and f"output directory: {where}" in out
    elif argv[1] == "align":
        assert len(list(where.glob("*/summary.csv"))) == 4  # operators × datasets
    if "embedding_norm" in " ".join(argv) and argv[1] == "align":
        assert "embedding_norm" in (where / "summary.csv").read_text()

"""The ablation sweeps as users run them (docs/experiments.md), end to end, and their reports.

The sweeps are the documentation's own command lines, run once per session by the docs
runner (tests/docs/commands.yaml adds the tiny-data overrides); these tests inspect them.
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gazelm.cli.report import main as report_main
from tests.conftest import ROOT
from tests.docs.runner import describe, entries

pytestmark = pytest.mark.slow

TASK_METRICS = {
    "translation": {"bleu_codexglue", "exact_match_codexglue", "codebleu", "chrf"},
    "completion": {"exact_match", "containment_exact", "h_exact", "codebleu", "edit_similarity"},
    "summarization": {"smoothed_bleu4", "rouge_l", "meteor", "bleu_sacre"},
}


def _jobs(sweep: Path) -> list[tuple[dict[str, str], dict[str, float]]]:
    recorded = json.loads((sweep / "jobs.json").read_text())["jobs"]
    out = []
    for job in recorded:
        job_dir = sweep / str(job["num"])
        # the job list written before the sweep is exactly what Hydra launched, in order
        assert yaml.safe_load((job_dir / ".hydra" / "overrides.yaml").read_text()) == job["overrides"]
        assert json.loads((job_dir / "status.json").read_text())["status"] == "ok"
        overrides = dict(o.lstrip("+").split("=", 1) for o in job["overrides"])
        out.append((overrides, json.loads((job_dir / "metrics.json").read_text())))
    return out


def _check_sweep(result, arm_key: str, baseline: str, logs: Path) -> None:
    assert result.process.returncode == 0, describe(result.process)
    assert "6 jobs: 6 ok" in result.process.stdout
    # one sweep directory, one folder per job with its CSV log (and no second sweep under paths.log_dir)
    folders = {p.name for p in result.out_dir.iterdir() if p.is_dir()} - {"report"}  # report/: gazelm report's
    assert folders == {str(n) for n in range(6)}, folders
    assert all((result.out_dir / str(n) / "csv" / "metrics.csv").is_file() for n in range(6))
    assert not (logs / "multiruns").exists()
    jobs = _jobs(result.out_dir)
    assert sorted((o["task"], o[arm_key]) for o, _ in jobs) == sorted(
        (t, a) for t in TASK_METRICS for a in (baseline, "eyemulator"))
    by_key = {(o["task"], o[arm_key]): m for o, m in jobs}
    for (task, arm), metrics in by_key.items():
        scored = {k.split("/", 1)[1] for k in metrics if k.startswith("test/") and k.count("/") == 1} - {"loss"}
        assert scored == TASK_METRICS[task], (task, arm)  # task-appropriate metrics, and only those
        if arm == "eyemulator":  # gaze weights changed training: it differs from its CE twin
            assert metrics["val/loss"] != by_key[task, baseline]["val/loss"], task


def test_eyemulator_ablation_sweep_over_three_tasks(doc_runner) -> None:
    _check_sweep(doc_runner.named("ablation_sweep"), "ablation", "ce", doc_runner.root / "logs")


def test_task_by_objective_sweep_with_gaze_priors(doc_runner) -> None:
    _check_sweep(doc_runner.named("objective_sweep"), "objective", "ce", doc_runner.root / "logs")


def _report_rows(doc_runner, command: str) -> list[dict[str, str]]:
    """Run the docs' ``gazelm report <sweep>`` line and read its wide table."""
    entry = next(e for e in entries() if e.command == command)
    result = doc_runner.result(entry)
    assert result.process.returncode == 0, describe(result.process)
    sweep = Path(doc_runner.words(entry)[2])
    with open(sweep / "report" / "table.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_report_gives_one_table_with_every_job(doc_runner) -> None:
    rows = _report_rows(doc_runner, "gazelm report outputs/multiruns/<date>/<time> --baseline +ablation=ce")
    assert sorted((r["task"], r["ablation"], r["n"]) for r in rows) == sorted(
        (t, a, "1") for t in TASK_METRICS for a in ("ce", "eyemulator"))
    summarization = next(r for r in rows if r["task"] == "summarization" and r["ablation"] == "eyemulator")
    assert summarization["test/codebleu"] == "—" and summarization["test/rouge_l"] != "—"
    rows = _report_rows(doc_runner, "gazelm report multirun/2026-05-01/12-00-00 --baseline objective=ce")
    assert sorted((r["task"], r["objective"]) for r in rows) == sorted(
        (t, o) for t in TASK_METRICS for o in ("ce", "eyemulator"))


def test_report_reads_an_align_multirun(doc_runner) -> None:
    rows = _report_rows(doc_runner, "gazelm report outputs/align-multirun/<date>/<time>")
    assert {(r["method"], r["model"], r["k"]) for r in rows} == {
        (m, model, k) for m in ("self_attention", "rollout") for model in ("tiny-llama", "average") for k in ("5", "10")}
    assert all(0 <= float(r["f1"]) <= 1 for r in rows)


def test_a_failing_job_is_reported_and_the_sweep_goes_on(tmp_path: Path, shared_cache: Path, capsys) -> None:
    # the summarization job would train plain CE (per-token weights on a summary): it stops at setup
    cmd = [sys.executable, "-m", "gazelm.cli.main", "train", "-m", "task=summarization,completion",
           "objective=eyemulator", "objective.scope=token", "gaze=eyemulator_priors", "debug=fdr",
           "model.tokenizer.vocab_size=600", "data.source.max_examples={train: 32, val: 8, test: 8}",
           "callbacks.generation=null", f"paths.cache_dir={shared_cache}", f"hydra.sweep.dir={tmp_path}"]
    res = subprocess.run(cmd, cwd=ROOT, env={**os.environ, "CI": "true"}, capture_output=True, text=True, timeout=600)
    assert res.returncode != 0
    assert "gazelm: job 0 failed: GazelmInputError: eyemulator (scope=token, loss_on=target)" in res.stderr
    assert f"gazelm: sweep {tmp_path}: 2 jobs: 1 ok, 1 failed" in res.stdout  # job 1 still ran
    status = json.loads((tmp_path / "0" / "status.json").read_text())
    assert status["status"] == "failed" and "objective.loss_on=both" in status["error"]
    assert (tmp_path / "1" / "metrics.json").exists()
    assert report_main([str(tmp_path), "--no-plots"]) == 0
    assert "2 jobs: 1 ok, 1 failed; not finished:" in capsys.readouterr().out

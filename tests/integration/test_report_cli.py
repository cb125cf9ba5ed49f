"""``gazelm report <multirun dir>`` end to end on a sweep written by the test."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import yaml
from scipy import stats

from tests.helpers.cli import checkout_env, gazelm_subprocess

CHRF = {("ce", 0): 40.0, ("ce", 1): 42.0, ("ce", 2): 41.0, ("ce", 3): 43.0,
        ("dft", 0): 44.0, ("dft", 1): 43.5, ("dft", 2): 45.0, ("dft", 3): 46.0}


def _write_sweep(root: Path, fail: int | None = None) -> None:
    """A sweep as ``gazelm train -m objective=ce,dft seed=0,1,2,3`` leaves it; job ``fail`` failed."""
    jobs = []
    for job, (objective, seed) in enumerate(CHRF):
        d = root / str(job)
        overrides = [f"objective={objective}", f"seed={seed}"]
        jobs.append({"num": job, "overrides": overrides})
        (d / ".hydra").mkdir(parents=True)
        (d / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
        if job == fail:
            (d / "status.json").write_text(json.dumps({"num": job, "status": "failed", "overrides": overrides,
                                                       "error": "RuntimeError: out of memory"}))
        else:
            (d / "metrics.json").write_text(json.dumps({"test/chrf": CHRF[objective, seed]}))
    (root / "jobs.json").write_text(json.dumps({"varying": ["objective", "seed"], "jobs": jobs}))


def _report(*args: str) -> subprocess.CompletedProcess:
    return gazelm_subprocess("report", *args, "--no-plots", env=checkout_env(WANDB_MODE="disabled"), timeout=300)


def test_report_cli_writes_csv_markdown_png(tmp_path):
    _write_sweep(tmp_path / "sweep")
    res = gazelm_subprocess("report", str(tmp_path / "sweep"), "--baseline", "objective=ce", "--out",
                            str(tmp_path / "rep"), env=checkout_env(WANDB_MODE="disabled"), timeout=300)
    assert res.returncode == 0, res.stderr
    ce = [CHRF["ce", s] for s in range(4)]
    dft = [CHRF["dft", s] for s in range(4)]
    p = stats.wilcoxon(dft, ce).pvalue
    d = np.subtract(dft, ce)
    line = (f"| dft | 4 | {np.mean(dft):.4g} ± {np.std(dft, ddof=1):.4g} | {np.mean(d):+.4g} | nan | "
            f"{p:.3g} | {d.mean() / d.std(ddof=1):.3g} |")
    markdown = (tmp_path / "rep" / "report.md").read_text()
    assert line in markdown and "| ce | 4 | 41.5 ± 1.291 | baseline |" in markdown
    # the terminal gets the compact table: mean ± std and the paired p-value per arm
    rows = [r for r in res.stdout.splitlines() if r.startswith("│")]
    assert [c.strip() for c in rows[0].split("│")[1:4]] == ["ce (baseline)", "4", "41.5 ± 1.291"]
    assert [c.strip() for c in rows[1].split("│")[1:4]] == ["dft", "4", f"{np.mean(dft):.4g} ± {np.std(dft, ddof=1):.4g}"]
    assert [c.strip() for c in rows[2].split("│")[1:4]] == ["", "", f"p={p:.2g}"]
    for name in ("summary.csv", "comparison.csv", "table.csv", "test_chrf.png"):
        assert (tmp_path / "rep" / name).exists()


def test_report_cli_missing_dir_names_it(tmp_path):
    res = gazelm_subprocess("report", str(tmp_path / "nope"), timeout=120)
    assert res.returncode != 0 and f"{tmp_path / 'nope'}: multirun directory not found" in res.stderr


def test_report_lists_failed_and_missing_jobs_and_refuses_incomplete_pairs(tmp_path):
    sweep = tmp_path / "sweep"
    _write_sweep(sweep, fail=5)  # dft, seed=1
    import shutil

    shutil.rmtree(sweep / "7")  # dft, seed=3 never ran
    res = _report(str(sweep), "--baseline", "objective=ce", "--out", str(tmp_path / "rep"))
    assert res.returncode == 2
    assert "8 jobs: 6 ok, 1 failed, 1 missing" in res.stdout
    assert "RuntimeError: out of memory" in res.stdout and "never started" in res.stdout
    assert "2 job(s) failed or missing" in res.stderr and "--allow-missing" in res.stderr
    allowed = _report(str(sweep), "--baseline", "objective=ce", "--out", str(tmp_path / "rep"), "--allow-missing")
    assert allowed.returncode == 0, allowed.stderr
    comparison = (tmp_path / "rep" / "comparison.csv").read_text().splitlines()
    assert comparison[1].split(",")[:2] == ["dft", "test/chrf"] and comparison[1].split(",")[-2:] == ["2", "0"]
    # without a baseline the jobs are listed and the means use what finished
    plain = _report(str(sweep), "--out", str(tmp_path / "rep2"))
    assert plain.returncode == 0 and "1 failed, 1 missing" in plain.stdout


def test_report_reads_align_multiruns(tmp_path):
    sweep = tmp_path / "align"
    rows = {"rollout": (0.5, 0.25), "saliency": (0.75, 0.5)}
    for job, (dataset, scale) in enumerate([("humaneval", 1.0), ("mbpp", 0.5)]):
        d = sweep / str(job)
        (d / ".hydra").mkdir(parents=True)
        (d / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([f"dataset={dataset}"]))
        lines = ["method,model,k,precision,recall,f1,krippendorff_alpha,n_prompts"]
        lines += [f"{m},tiny,{k},{p * scale},{r},{f * scale},0.1,4" for m, (p, f) in rows.items() for k, r in ((5, 0.2), (10, 0.4))]
        (d / "summary.csv").write_text("\n".join(lines) + "\n")
    res = _report(str(sweep), "--out", str(tmp_path / "rep"))
    assert res.returncode == 0, res.stderr
    table = (tmp_path / "rep" / "table.csv").read_text().splitlines()
    assert table[0] == "dataset,method,k,n,f1,krippendorff_alpha,precision,recall"
    assert "mbpp,saliency,10,1,0.25,0.1,0.375,0.4" in table and len(table) == 1 + 2 * 2 * 2

"""``gazelm report <multirun dir>`` end to end on a sweep written by the test."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml
from scipy import stats

ROOT = Path(__file__).resolve().parents[2]
CHRF = {("ce", 0): 40.0, ("ce", 1): 42.0, ("ce", 2): 41.0, ("ce", 3): 43.0,
        ("dft", 0): 44.0, ("dft", 1): 43.5, ("dft", 2): 45.0, ("dft", 3): 46.0}


def _write_sweep(root: Path) -> None:
    for job, (objective, seed) in enumerate(CHRF):
        d = root / str(job)
        (d / ".hydra").mkdir(parents=True)
        (d / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([f"objective={objective}", f"seed={seed}"]))
        (d / "metrics.json").write_text(json.dumps({"test/chrf": CHRF[objective, seed]}))


def test_report_cli_writes_csv_markdown_png(tmp_path):
    _write_sweep(tmp_path / "sweep")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WANDB_MODE": "disabled"}
    res = subprocess.run([sys.executable, "-m", "gazelm.cli.main", "report", str(tmp_path / "sweep"),
                          "--baseline", "objective=ce", "--out", str(tmp_path / "rep")],
                         env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    ce = [CHRF["ce", s] for s in range(4)]
    dft = [CHRF["dft", s] for s in range(4)]
    p = stats.wilcoxon(dft, ce).pvalue
    d = np.subtract(dft, ce)
    line = (f"| dft | 4 | {np.mean(dft):.4g} ± {np.std(dft, ddof=1):.4g} | {np.mean(d):+.4g} | nan | "
            f"{p:.3g} | {d.mean() / d.std(ddof=1):.3g} |")
    assert line in res.stdout
    assert "| ce | 4 | 41.5 ± 1.291 | baseline |" in res.stdout
    assert line in (tmp_path / "rep" / "report.md").read_text()
    for name in ("summary.csv", "comparison.csv", "table.csv", "test_chrf.png"):
        assert (tmp_path / "rep" / name).exists()


def test_report_cli_missing_dir_names_it(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    res = subprocess.run([sys.executable, "-m", "gazelm.cli.main", "report", str(tmp_path / "nope")],
                         env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode != 0 and f"{tmp_path / 'nope'}: multirun directory not found" in res.stderr

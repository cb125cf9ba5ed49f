"""``gazelm report`` on a FixATE sweep: per-participant paired Wilcoxon of FixATE vs the backbone and
vs the population prompt, per sweep row, seeds pooled."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from gazelm.cli.report import main as report_main


def _job(root: Path, num: int, ablation: str, seed: int, shift: float) -> None:
    job = root / str(num)
    (job / ".hydra").mkdir(parents=True)
    (job / "predictions").mkdir()
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([f"+ablation={ablation}", f"seed={seed}"]))
    rows, fix, base = [], [], []
    for u in range(6):
        for t in range(2):
            f, b = 0.5 - shift * (u + 1), 0.5 + 0.01 * t
            rows.append({"id": f"P{u}/t{t}", "user": f"P{u}", "prediction": "A", "reference": "A",
                         "scores": {"fixate_tf_kl": f, "backbone_tf_kl": b, "population_tf_kl": b + 0.001 * u}})
            fix.append(f)
            base.append(b)
    (job / "predictions" / "test_step10.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    metrics = {"test/fixate_tf_kl": sum(fix) / len(fix), "test/backbone_tf_kl": sum(base) / len(base)}
    (job / "metrics.json").write_text(json.dumps(metrics))


def test_report_adds_participant_tests(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    sweep = tmp_path / "sweep"
    for i, (ablation, seed) in enumerate([("fixate_full", 0), ("fixate_full", 1), ("fixate_lambda0", 0),
                                          ("fixate_lambda0", 1)]):
        _job(sweep, i, ablation, seed, 0.05 if ablation == "fixate_full" else 0.0)
    assert report_main([str(sweep), "--baseline", "+ablation=fixate_lambda0", "--no-plots"]) == 0
    out = capsys.readouterr().out
    assert "Per-participant paired Wilcoxon" in out
    table = pd.read_csv(sweep / "report" / "participants.csv")
    full = table[(table["ablation"] == "fixate_full") & (table["baseline"] == "backbone")].iloc[0]
    assert full["metric"] == "tf_kl" and full["n_users"] == 6 and full["split"] == "test"
    # every one of the 6 users improves: the exact two-sided p of the signed-rank test is 2 / 2^6
    assert full["p_wilcoxon"] == pytest.approx(2 / 64)
    assert full["delta"] < 0
    assert set(table["baseline"]) == {"backbone", "population"}
    assert "Per-participant" in (sweep / "report" / "report.md").read_text()

"""Reports over a fake multirun dir written here with known numbers: table and p-values."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import stats

from gazelm.errors import GazelmInputError
from gazelm.report import build_report, load_multirun, parse_overrides, varying_keys, write_report

SEEDS = [0, 1, 2]
IDS = ["a", "b", "c", "d"]
# seed-level test/bleu_sacre per (objective, task)
BLEU = {("ce", "summ"): [30.0, 32.0, 31.0], ("eyemulator", "summ"): [33.0, 34.5, 32.5],
        ("ce", "trans"): [50.0, 52.0, 54.0], ("eyemulator", "trans"): [51.0, 51.0, 55.0]}
LOSS = {("ce", "summ"): [1.0, 1.2, 1.1], ("eyemulator", "summ"): [0.9, 1.0, 1.1],
        ("ce", "trans"): [0.5, 0.6, 0.7], ("eyemulator", "trans"): [0.5, 0.5, 0.5]}


def per_example(objective: str, task: str, seed: int) -> dict[str, float]:
    """Known per-example scores: eyemulator beats ce on every summ example; trans is mixed."""
    base = {"a": 10.0, "b": 20.0, "c": 30.0, "d": 40.0}
    if objective == "ce":
        return {k: v + seed for k, v in base.items()}
    if task == "summ":
        return {k: v + seed + 1.0 + 0.5 * i for i, (k, v) in enumerate(base.items())}
    return {k: v + seed + (-1.0, 2.0, 0.5, -0.25)[i] for i, (k, v) in enumerate(base.items())}


def write_fake_sweep(root: Path) -> Path:
    job = 0
    for objective in ("ce", "eyemulator"):
        for task in ("summ", "trans"):
            for s, seed in enumerate(SEEDS):
                d = root / str(job)
                (d / ".hydra").mkdir(parents=True)
                (d / "predictions").mkdir()
                overrides = [f"objective={objective}", f"task={task}", f"seed={seed}", "trainer=cpu"]
                (d / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
                (d / ".hydra" / "config.yaml").write_text(yaml.safe_dump({"objective": objective, "seed": seed}))
                (d / "metrics.json").write_text(json.dumps({"test/bleu_sacre": BLEU[objective, task][s],
                                                            "val/loss": LOSS[objective, task][s]}))
                scores = per_example(objective, task, seed)
                with open(d / "predictions" / "test_step100.jsonl", "w") as f:
                    for ex_id in reversed(IDS):  # file order differs from id order on purpose
                        f.write(json.dumps({"id": ex_id, "prediction": "p", "reference": "r",
                                            "scores": {"bleu_sacre": scores[ex_id]}}) + "\n")
                with open(d / "predictions" / "test_step50.jsonl", "w") as f:  # older step: ignored
                    for ex_id in IDS:
                        f.write(json.dumps({"id": ex_id, "scores": {"bleu_sacre": -99.0}}) + "\n")
                job += 1
    (root / "multirun.yaml").write_text("hydra: {}\n")
    return root


def expected_bootstrap_p(diffs: np.ndarray, samples: int, seed: int) -> float:
    idx = np.random.default_rng(seed).integers(0, diffs.size, size=(samples, diffs.size))
    boot = diffs[idx].mean(axis=1)
    return min(1.0, 2 * min((np.sum(boot <= 0) + 1) / (samples + 1), (np.sum(boot >= 0) + 1) / (samples + 1)))


def test_parse_overrides():
    assert parse_overrides(["a=1", "+b=x=y", "~c", "++d=2"]) == {"a": "1", "b": "x=y", "d": "2"}


def test_load_multirun_reads_latest_predictions(tmp_path):
    jobs = load_multirun(write_fake_sweep(tmp_path))
    assert len(jobs) == 12 and jobs[0].overrides["objective"] == "ce"
    assert jobs[0].per_example["test/bleu_sacre"] == {"a": 10.0, "b": 20.0, "c": 30.0, "d": 40.0}
    assert varying_keys(jobs) == ["objective", "task"]


def test_report_table_and_p_values(tmp_path):
    jobs = load_multirun(write_fake_sweep(tmp_path))
    rep = build_report(jobs, baseline={"objective": "ce"}, bootstrap_samples=2000, bootstrap_seed=5)
    assert rep.keys == ["objective", "task"] and rep.metrics == ["test/bleu_sacre", "val/loss"]
    s = rep.summary.set_index(["objective", "task", "metric"])
    for (objective, task), values in BLEU.items():
        row = s.loc[(objective, task, "test/bleu_sacre")]
        assert row["mean"] == pytest.approx(np.mean(values))
        assert row["std"] == pytest.approx(np.std(values, ddof=1))
        assert row["n"] == 3
    assert s.loc[("ce", "summ", "test/bleu_sacre"), "values"] == "seed=0:30; seed=1:32; seed=2:31"

    c = rep.comparison.set_index(["objective", "task", "metric"])
    assert len(c) == 4  # 2 non-baseline rows x 2 metrics
    for task in ("summ", "trans"):
        base, row = BLEU["ce", task], BLEU["eyemulator", task]
        r = c.loc[("eyemulator", task, "test/bleu_sacre")]
        assert r["delta"] == pytest.approx(np.mean(row) - np.mean(base))
        assert r["p_wilcoxon"] == pytest.approx(stats.wilcoxon(row, base).pvalue)
        # pooled per-example differences: seeds in job order, ids sorted
        diffs = np.array([per_example("eyemulator", task, seed)[i] - per_example("ce", task, seed)[i]
                          for seed in SEEDS for i in IDS])
        assert r["n_examples"] == 12 and r["n_seeds"] == 3
        assert r["p_bootstrap"] == pytest.approx(expected_bootstrap_p(diffs, 2000, 5))
        assert r["effect_dz"] == pytest.approx(diffs.mean() / diffs.std(ddof=1))
    assert c.loc[("eyemulator", "summ", "test/bleu_sacre"), "p_bootstrap"] == pytest.approx(2 / 2001)
    # no per-example scores for val/loss: bootstrap NaN, effect size over seeds
    loss = c.loc[("eyemulator", "summ", "val/loss")]
    assert np.isnan(loss["p_bootstrap"]) and not loss["higher_is_better"]
    d = np.array(LOSS["eyemulator", "summ"]) - np.array(LOSS["ce", "summ"])
    assert loss["effect_dz"] == pytest.approx(d.mean() / d.std(ddof=1))


def test_report_formatted_table_exact(tmp_path):
    jobs = load_multirun(write_fake_sweep(tmp_path))
    rep = build_report(jobs, baseline={"objective": "ce"}, metrics=["bleu_sacre"], bootstrap_samples=2000,
                       bootstrap_seed=5)
    p_trans = stats.wilcoxon(BLEU["eyemulator", "trans"], BLEU["ce", "trans"]).pvalue
    diffs = np.array([per_example("eyemulator", "trans", seed)[i] - per_example("ce", "trans", seed)[i]
                      for seed in SEEDS for i in IDS])
    p_boot_trans = expected_bootstrap_p(diffs, 2000, 5)
    d_trans = diffs.mean() / diffs.std(ddof=1)
    assert rep.table.to_dict("records") == [
        {"objective": "ce", "task": "summ", "n": "3", "test/bleu_sacre": "31 ± 1",
         "test/bleu_sacre Δ": "baseline", "test/bleu_sacre p_boot": "", "test/bleu_sacre p_wilcoxon": "",
         "test/bleu_sacre d": ""},
        {"objective": "ce", "task": "trans", "n": "3", "test/bleu_sacre": "52 ± 2",
         "test/bleu_sacre Δ": "baseline", "test/bleu_sacre p_boot": "", "test/bleu_sacre p_wilcoxon": "",
         "test/bleu_sacre d": ""},
        {"objective": "eyemulator", "task": "summ", "n": "3", "test/bleu_sacre": "33.33 ± 1.041",
         "test/bleu_sacre Δ": "+2.333", "test/bleu_sacre p_boot": "0.001",
         "test/bleu_sacre p_wilcoxon": "0.25", "test/bleu_sacre d": "3"},  # 1.75 / 0.5839
        {"objective": "eyemulator", "task": "trans", "n": "3", "test/bleu_sacre": "52.33 ± 2.309",
         "test/bleu_sacre Δ": "+0.3333", "test/bleu_sacre p_boot": f"{p_boot_trans:.3g}",
         "test/bleu_sacre p_wilcoxon": f"{p_trans:.3g}", "test/bleu_sacre d": f"{d_trans:.3g}"},
    ]
    paths = write_report(rep, tmp_path / "out")
    md = paths["markdown"].read_text()
    assert "| eyemulator | summ | 3 | 33.33 ± 1.041 | +2.333 | 0.001 | 0.25 | 3 |" in md
    assert paths["plot:test/bleu_sacre"].stat().st_size > 1000
    assert (tmp_path / "out" / "comparison.csv").read_text().startswith("objective,task,metric,baseline,delta")


def test_report_errors_name_the_problem(tmp_path):
    jobs = load_multirun(write_fake_sweep(tmp_path))
    with pytest.raises(GazelmInputError, match="baseline key 'seed' does not vary"):
        build_report(jobs, baseline={"seed": "0"})
    with pytest.raises(GazelmInputError, match="no job has objective=dft"):
        build_report(jobs, baseline={"objective": "dft"})
    with pytest.raises(GazelmInputError, match="metric 'rouge_l' is in no job"):
        build_report(jobs, metrics=["rouge_l"])
    (tmp_path / "0" / "metrics.json").write_text('{"test/bleu_sacre": "high"}')
    with pytest.raises(GazelmInputError, match=r"0/metrics.json, field 'test/bleu_sacre'"):
        load_multirun(tmp_path)

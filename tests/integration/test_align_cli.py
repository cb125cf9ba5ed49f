"""``gazelm align``: the score subcommand on files written here, and a small Hydra run."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from gazelm.cli.align import COLUMNS, run, score_main
from gazelm.config import conf_dir
from tests.helpers.cli import gazelm_subprocess


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def files(tmp_path):
    human = _write(tmp_path / "human.jsonl", [
        {"prompt": "sort the list", "spans": [[9, 13]]},
        {"prompt": "add two numbers", "spans": []},
    ])
    model = _write(tmp_path / "model.jsonl", [
        {"method": "m1", "model": "a", "prompt": "sort the list", "tokens": [["sort", 0.9], [" the", 0.1], ["list", 0.5]]},
        {"method": "m1", "model": "a", "prompt": "add two numbers", "tokens": [["add", 1.0], ["two", 0.0], ["numbers", 0.2]]},
        {"method": "m1", "model": "b", "prompt": "sort the list", "tokens": [["sort", 0.1], ["the", 0.2], ["list", 0.9]]},
    ])
    return human, model


def test_score_writes_table3_rows(files, tmp_path, capsys):
    human, model = files
    out = tmp_path / "results.csv"
    assert score_main(["--human", str(human), "--model", str(model), "--k", "1", "2", "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert list(table.columns) == COLUMNS
    a1 = table[(table.model == "a") & (table.k == 1)].iloc[0]
    # model a, k=1: "sort" (no overlap) and "add" (unlabelled prompt) → P = 0/2; R = 0/1
    assert (a1.precision, a1.recall, a1.n_prompts) == (0.0, 0.0, 2)
    b1 = table[(table.model == "b") & (table.k == 1)].iloc[0]
    assert (b1.precision, b1.recall, b1.f1) == (1.0, 1.0, 1.0)
    mean = table[(table.model == "average") & (table.k == 1)].iloc[0]
    assert mean.precision == pytest.approx(0.5) and mean.f1 == pytest.approx(0.5)
    printed = capsys.readouterr().out.strip().splitlines()
    assert "== average over models" in printed and printed.index("== average over models") > printed.index("== b")


def test_score_rejects_unknown_prompt_with_file_row_field(files, tmp_path, capsys):
    human, _ = files
    bad = _write(tmp_path / "bad.jsonl", [{"method": "m", "model": "a", "prompt": "other", "tokens": []}])
    assert score_main(["--human", str(human), "--model", str(bad)]) == 2
    assert "bad.jsonl, row 1, field 'prompt'" in capsys.readouterr().err


def test_score_through_the_gazelm_command(files, tmp_path):
    human, model = files
    out = tmp_path / "r.csv"
    proc = gazelm_subprocess("align", "score", "--human", str(human), "--model", str(model), "--k", "2", "--out",
                             str(out), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert len(pd.read_csv(out)) == 3  # a, b, average


def test_hydra_app_probes_and_summarises(data_dir, tmp_path):
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose("align", overrides=[
            "max_prompts=4", "ks=[2,5]", "operators=[rollout,self_attention_kou]",
            f"labels_path={data_dir / 'kou-attention-labels' / 'humaneval.csv'}",
            f"output_dir={tmp_path}", f"cache_dir={tmp_path / 'cache'}",
            "models=[{name: tiny, tiny: {vocab_size: 300, hidden_size: 16, layers: 1}}]"])
    table = run(cfg)
    assert set(table.method) == {"rollout", "self_attention_kou"} and set(table.model) == {"tiny", "average"}
    rows = [json.loads(line) for line in (tmp_path / "attention.jsonl").read_text().splitlines()]
    assert len(rows) == 8 and {tuple(r) for r in rows} == {("method", "model", "prompt", "tokens")}
    # rollout over all layers from the first generated position sums to 1 over the prompt
    assert sum(score for _, score in rows[0]["tokens"]) == pytest.approx(1.0, abs=1e-4)
    # the files it wrote can be scored again and give the same table
    out = tmp_path / "again.csv"
    score_main(["--human", str(tmp_path / "human.jsonl"), "--model", str(tmp_path / "attention.jsonl"),
                "--k", "2", "5", "--out", str(out)])
    pd.testing.assert_frame_equal(pd.read_csv(out), pd.read_csv(tmp_path / "summary.csv"))


def test_shipped_operator_configs_build(tmp_path):
    from gazelm.attention.probe import OperatorSpec
    from gazelm.attention.study import compose_operator

    for path in sorted((conf_dir() / "operator").glob("*.yaml")):
        spec = compose_operator(path.stem)
        assert isinstance(spec, OperatorSpec) and spec.label == path.stem
        spec.target  # validates stage / score
    kou = compose_operator("self_attention_kou")  # inherits self_attention through its defaults
    assert (kou.name, kou.stage, kou.params) == ("self_attention", "reading", {"layer": 0, "heads": "mean"})


def test_callback_config_composes_with_train(tmp_path):
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from gazelm.callbacks.alignment import AttentionAlignmentEvaluator

    if not (conf_dir() / "train.yaml").exists():
        pytest.skip("conf/train.yaml not present")
    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        cfg = compose("train", overrides=["callbacks=alignment", f"callbacks.alignment.output_dir={tmp_path}"])
    assert "model_checkpoint" in cfg.callbacks  # the defaults are kept
    callback = instantiate(OmegaConf.create(OmegaConf.to_container(cfg.callbacks.alignment, resolve=True)))
    assert isinstance(callback, AttentionAlignmentEvaluator) and callback.spec.name == "self_attention"

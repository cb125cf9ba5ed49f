"""``fast_dev_run`` through the real configs: each task × each backbone kind (× LoRA)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from gazelm.training import train
from tests.helpers.compose import train_config
from tests.helpers.losses import near_chance

STDLIB = ["data.source.max_examples={train: 48, val: 8, test: 8}"]


def _task_metrics(cfg) -> set[str]:
    return {f"{split}/{m}" for split in ("val", "test") for m in cfg.task.metrics}


@pytest.mark.parametrize("model", ["tiny_t5", "tiny_causal"])
@pytest.mark.parametrize("task", ["summarization", "completion", "generation"])
def test_fast_dev_run_stdlib(model: str, task: str, tmp_path: Path, shared_cache: Path, capsys) -> None:
    cfg = train_config(tmp_path, shared_cache, "debug=fdr", f"model={model}", f"task={task}",
                       "model.tokenizer.vocab_size=600", *STDLIB)
    train(cfg)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    # each task is scored with its own metrics (conf/task/<task>.yaml), and only those
    assert {k for k in metrics if k.count("/") == 1 and k.startswith(("val/", "test/"))} == (
        _task_metrics(cfg) | {"val/loss", "test/loss"})
    rows = [json.loads(r) for r in (tmp_path / "predictions" / "test_step1.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and set(rows[0]) == {"id", "prediction", "reference", "scores"}
    assert set(rows[0]["scores"]) == set(cfg.task.metrics)
    # stdout is not a terminal here: plain progress lines instead of a bar
    assert "epoch 1/1 done: step 1/1 (100.0%) loss " in capsys.readouterr().out
    assert near_chance(metrics["val/loss"], 600) and near_chance(metrics["test/loss"], 600)


@pytest.mark.parametrize("model", ["tiny_t5", "tiny_causal"])
def test_fast_dev_run_translation_codexglue(model: str, tmp_path: Path, shared_cache: Path, data_dir: Path) -> None:
    cfg = train_config(tmp_path, shared_cache, "debug=fdr", f"model={model}", "task=translation",
                       f"paths.data_dir={data_dir}", "model.tokenizer.vocab_size=600",
                       "data.source.max_examples={train: 48, val: 8, test: 8}")
    assert cfg.data.source.name == "codexglue_java_cs" and cfg.task.target_language == "c_sharp"  # the task's default
    train(cfg)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert _task_metrics(cfg) == {f"{s}/{m}" for s in ("val", "test")
                                  for m in ("bleu_codexglue", "exact_match_codexglue", "codebleu", "chrf")}
    assert _task_metrics(cfg) <= set(metrics)


@pytest.mark.parametrize("task", ["summarization", "translation", "completion"])
def test_fast_dev_run_eyemulator_rows(task: str, tmp_path: Path, shared_cache: Path, data_dir: Path) -> None:
    cfg = train_config(tmp_path, shared_cache, "debug=fdr", "data=eyemulator_jsonl", f"task={task}",
                       f"paths.data_dir={data_dir}", "model.tokenizer.vocab_size=600",
                       "data.source.max_examples={train: 16, val: 4, test: 4}")
    train(cfg)
    assert near_chance(json.loads((tmp_path / "metrics.json").read_text())["val/loss"], 600)


def test_fast_dev_run_mbpp_generation(tmp_path: Path, shared_cache: Path, data_dir: Path) -> None:
    cfg = train_config(tmp_path, shared_cache, "debug=fdr", "data=mbpp", "task=generation", "model=tiny_causal",
                       f"paths.data_dir={data_dir}", "model.tokenizer.vocab_size=600",
                       "data.source.max_examples={train: 32, val: 8, test: 8}")
    train(cfg)
    assert near_chance(json.loads((tmp_path / "metrics.json").read_text())["test/loss"], 600)

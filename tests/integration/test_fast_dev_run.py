"""``fast_dev_run`` through the real configs: each task × each backbone kind (× LoRA)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from gazelm.training import train
from tests.helpers.compose import train_config
from tests.helpers.losses import near_chance

STDLIB = ["data.source.max_examples={train: 48, val: 8, test: 8}"]


@pytest.mark.parametrize("model", ["tiny_t5", "tiny_causal"])
@pytest.mark.parametrize("task", ["summarization", "completion", "generation"])
def test_fast_dev_run_stdlib(model: str, task: str, tmp_path: Path, shared_cache: Path) -> None:
    cfg = train_config(tmp_path, shared_cache, "debug=fdr", f"model={model}", f"task={task}",
                       "model.tokenizer.vocab_size=600", *STDLIB)
    train(cfg)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert near_chance(metrics["val/loss"], 600) and near_chance(metrics["test/loss"], 600)
    assert {"test/bleu_sacre", "test/rouge_l"} <= set(metrics)
    rows = (tmp_path / "predictions" / "test_step1.jsonl").read_text().splitlines()
    assert len(rows) == 4 and set(json.loads(rows[0])) == {"id", "prediction", "reference", "scores"}


@pytest.mark.parametrize("model", ["tiny_t5", "tiny_causal"])
def test_fast_dev_run_with_lora(model: str, tmp_path: Path, shared_cache: Path) -> None:
    cfg = train_config(tmp_path, shared_cache, "debug=fdr", f"model={model}", "model.lora.enabled=true",
                       "model.tokenizer.vocab_size=600", *STDLIB)
    train(cfg)
    assert near_chance(json.loads((tmp_path / "metrics.json").read_text())["test/loss"], 600)


@pytest.mark.parametrize("model", ["tiny_t5", "tiny_causal"])
def test_fast_dev_run_translation_codexglue(model: str, tmp_path: Path, shared_cache: Path, data_dir: Path) -> None:
    cfg = train_config(tmp_path, shared_cache, "debug=fdr", f"model={model}", "task=translation",
                       "data=codexglue_java_cs", f"paths.data_dir={data_dir}", "model.tokenizer.vocab_size=600",
                       "data.source.max_examples={train: 48, val: 8, test: 8}",
                       "callbacks.generation.metrics=[bleu_codexglue,exact_match_codexglue]")
    train(cfg)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert "test/bleu_codexglue" in metrics


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

"""Evaluation-only datasets run without training: ``gazelm train data=humaneval task=generation train=false``."""
from __future__ import annotations

import json
from pathlib import Path

from gazelm.training import build_components, train
from tests.helpers.compose import train_config

ARGS = ("data=humaneval", "task=generation", "train=false")


def test_humaneval_without_training_scores_pass_at_k_by_task_id(tmp_path: Path, shared_cache: Path,
                                                                 sandbox) -> None:
    cfg = train_config(tmp_path, shared_cache, *ARGS, "model=tiny_causal", "model.tokenizer.vocab_size=600",
                       "callbacks.generation.metrics=[pass_at_k]", "callbacks.generation.max_samples=3",
                       "callbacks.generation.generation.max_new_tokens=4")
    assert train(cfg) is None  # nothing trained: no optimized_metric to return
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert {"test/pass_at_k", "test/pass_at_k/pass@1", "test/loss"} <= set(metrics)
    assert not any(k.startswith(("train/", "val/")) for k in metrics)
    rows = [json.loads(line) for line in (tmp_path / "predictions" / "test_step0.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == ["HumanEval/0", "HumanEval/1", "HumanEval/2"]


def test_a_tiny_tokenizer_learns_only_the_prompts_when_nothing_is_trained(tmp_path: Path, shared_cache: Path) -> None:
    cfg = train_config(tmp_path, shared_cache, *ARGS, "model=tiny_causal", "model.tokenizer.vocab_size=600")
    datamodule, _ = build_components(cfg)
    test = datamodule.split_examples("test")
    assert datamodule.tokenizer_corpus("test") == [e.source for e in test]  # never the reference solutions
    assert len(test) == 164

"""Each objective × {encoder-decoder, causal} × {LoRA off, on} through the real configs (two steps each).

``ce`` without LoRA is the default of ``test_fast_dev_run_stdlib`` (not repeated here)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from gazelm.training import train
from tests.helpers.compose import train_config
from tests.helpers.losses import near_chance

OBJECTIVES = ["ce", "eyemulator", "reward_sft", "gaze_preference"]


def _overrides(objective: str, model: str, lora: bool) -> list[str]:
    out = ["debug=limit", "trainer.max_epochs=1", "trainer.limit_train_batches=2", "trainer.limit_val_batches=1",
           "trainer.limit_test_batches=1", "trainer.log_every_n_steps=1", "callbacks.model_checkpoint=null",
           "callbacks.last_checkpoint=null",
           "callbacks.generation.max_samples=2", "callbacks.generation.generation.max_new_tokens=4",
           "gaze=eyelink_python", "model.tokenizer.vocab_size=600",
           "data.source.max_examples={train: 32, val: 4, test: 4}", f"objective={objective}", f"model={model}",
           f"model.lora.enabled={str(lora).lower()}"]
    if objective == "reward_sft":
        out.append("objective.warmup_steps=0")  # λ at full strength from the first step
    return out


CASES = [(o, m, lora) for o in OBJECTIVES for m in ("tiny_t5", "tiny_causal") for lora in (False, True)
         if lora or o != "ce"]


@pytest.mark.parametrize("objective,model,lora", CASES,
                         ids=[f"{o}-{m}-{'lora' if lora else 'full'}" for o, m, lora in CASES])
def test_objective_fast_dev_run(objective: str, model: str, lora: bool, tmp_path: Path, shared_cache: Path) -> None:
    cfg = train_config(tmp_path, shared_cache, *_overrides(objective, model, lora))
    if objective == "gaze_preference" and model == "tiny_t5":
        with pytest.raises(ValueError, match="causal"):
            train(cfg)
        return
    train(cfg)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert near_chance(metrics["val/loss"], 600) and near_chance(metrics["test/loss"], 600)  # CE for every objective
    rows = (tmp_path / "csv" / "metrics.csv").read_text().splitlines()
    header = rows[0].split(",")
    assert "train/loss" in header
    if objective == "reward_sft":
        assert any(h.startswith("train/") and "attention" in h for h in header), header
    if objective == "gaze_preference":
        assert any("pref" in h for h in header), header

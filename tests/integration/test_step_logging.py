"""Training-step metrics are logged every ``log_every_n_steps`` steps only, and none is lost."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from gazelm.models.module import GazeLM
from gazelm.training import train
from tests.helpers.compose import train_config


def test_train_metrics_logged_every_n_steps_only(tmp_path: Path, shared_cache: Path, monkeypatch) -> None:
    calls: list[str] = []
    log = GazeLM.log

    def counting_log(self, name, *args, **kwargs):
        calls.append(name)
        return log(self, name, *args, **kwargs)

    monkeypatch.setattr(GazeLM, "log", counting_log)
    # eyemulator for its logged components; no gaze needed to count log calls (allowed on purpose)
    cfg = train_config(tmp_path, shared_cache, "model=tiny_causal", "task=completion", "objective=eyemulator",
                       "allow_unweighted=true",
                       "model.tokenizer.vocab_size=600", "data.batch_size=4", "trainer.max_epochs=1",
                       "trainer.limit_train_batches=6", "trainer.limit_val_batches=1", "trainer.log_every_n_steps=3",
                       "trainer.accumulate_grad_batches=1", "test=false", "callbacks=none",
                       "data.source.max_examples={train: 24, val: 4, test: 4}")
    train(cfg)
    # 6 steps, every 3rd: steps 3 and 6 (the loss and the objective's three components each time)
    assert calls.count("train/loss") == 2
    assert calls.count("train/weighted_ce") == 2
    rows = pd.read_csv(tmp_path / "csv" / "metrics.csv")
    logged = rows.dropna(subset=["train/loss"])
    assert logged["step"].tolist() == [2, 5]  # Lightning's 0-based step of the 3rd and 6th optimizer step

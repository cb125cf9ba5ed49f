"""Training progress off a terminal (pipes, CI, SLURM logs): a plain line every N optimizer steps
and at each epoch end; the rich bar only on a terminal outside CI."""
from __future__ import annotations

import io
import re
import sys
from types import SimpleNamespace

import torch
from lightning.pytorch.callbacks import RichProgressBar

from gazelm.callbacks.progress import LineProgress, batch_tokens, progress_bar


def _trainer(**kw) -> SimpleNamespace:
    return SimpleNamespace(**{"global_step": 0, "estimated_stepping_batches": 10, "progress_bar_metrics": {},
                              "is_global_zero": True, "current_epoch": 0, "max_epochs": 2, "sanity_checking": False,
                              "callback_metrics": {}, **kw})


def test_a_line_every_n_optimizer_steps_and_at_the_epoch_end(capsys) -> None:
    bar, trainer = LineProgress(every_n_steps=4), _trainer()
    batch = {"attention_mask": torch.ones(2, 3), "labels": torch.tensor([[1, -100, 2], [3, 4, -100]])}
    bar.on_train_start(trainer, None)
    for step in (1, 1, 2, 3, 4, 4, 5):  # accumulation: the same optimizer step seen on several batches
        trainer.global_step = step
        trainer.progress_bar_metrics = {"train/loss": torch.tensor(2.5)}
        bar.on_train_batch_end(trainer, SimpleNamespace(backbone=SimpleNamespace(is_causal=False)), None, batch, 0)
    bar.on_train_epoch_end(trainer, None)
    trainer.callback_metrics = {"val/loss": torch.tensor(1.25), "val/loss/by_task": torch.ones(2)}
    bar.on_validation_end(trainer, None)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3  # step 4 once (not again for its second batch), the epoch end, the validation
    step = r"step {} \({}%\) loss 2\.5000 [\d,]+ tok/s elapsed \d:\d\d:\d\d ETA (\d:\d\d:\d\d|\?)"
    assert re.fullmatch("epoch 1/2 " + step.format("4/10", "40.0"), lines[0]), lines[0]
    assert re.fullmatch("epoch 1/2 done: " + step.format("5/10", "50.0"), lines[1]), lines[1]
    assert lines[2] == "epoch 1/2 validation: val/loss=1.25"


def test_tokens_are_the_unpadded_inputs_plus_seq2seq_targets() -> None:
    batch = {"attention_mask": torch.tensor([[1, 1, 0], [1, 1, 1]]), "labels": torch.tensor([[5, -100], [6, 7]])}
    assert batch_tokens(batch, causal=True) == 5
    assert batch_tokens(batch, causal=False) == 5 + 3


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_rich_bar_only_on_a_terminal_outside_ci(monkeypatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    assert isinstance(progress_bar(every_n_steps=7), LineProgress) and progress_bar(every_n_steps=7).every_n_steps == 7
    monkeypatch.setattr(sys, "stdout", _Terminal())
    assert isinstance(progress_bar(), RichProgressBar)
    monkeypatch.setenv("CI", "true")
    assert isinstance(progress_bar(), LineProgress)

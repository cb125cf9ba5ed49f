"""Progress: a rich bar on a terminal; plain lines where nobody watches a bar (pipes, CI, SLURM logs).

Off a terminal :class:`LineProgress` prints one line every ``every_n_steps`` optimizer steps
and one at the end of each training epoch (step/total, loss, tokens/s, elapsed, ETA), plus the
validation metrics of each validation run, flushed at once so ``tail -f`` and CI logs follow.
"""
from __future__ import annotations

import math
import os
import sys
import time
from typing import Any

from lightning.pytorch.callbacks import ProgressBar, RichProgressBar


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def batch_tokens(batch: dict[str, Any], causal: bool) -> int:
    """Tokens a step processes: non-padding input tokens, plus the target tokens of an encoder-decoder."""
    n = int(batch["attention_mask"].sum()) if "attention_mask" in batch else 0
    if not causal and "labels" in batch:
        n += int((batch["labels"] != -100).sum())
    return n


class LineProgress(ProgressBar):
    """One plain line every ``every_n_steps`` optimizer steps and at each epoch end (rank 0 only)."""

    def __init__(self, every_n_steps: int = 50):
        super().__init__()
        self.every_n_steps = max(1, int(every_n_steps))
        self._enabled = True
        self._start = 0.0
        self._tokens = 0
        self._first_step = self._last_step = 0

    def disable(self) -> None:
        self._enabled = False

    def enable(self) -> None:
        self._enabled = True

    def _emit(self, trainer: Any, text: str) -> None:
        if self._enabled and trainer.is_global_zero:
            print(text, flush=True)

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        # a resumed run counts its speed and ETA from the step it restarts at
        self._start, self._tokens = time.monotonic(), 0
        self._first_step = self._last_step = trainer.global_step

    def status(self, trainer: Any) -> str:
        """``step 40/375 (10.7%) loss 5.4321 1,234 tok/s elapsed 0:00:32 ETA 0:04:28``."""
        step, total = trainer.global_step, trainer.estimated_stepping_batches
        elapsed = time.monotonic() - self._start
        done = step - self._first_step
        eta = elapsed / done * (total - step) if done > 0 and math.isfinite(total) else math.inf
        loss = trainer.progress_bar_metrics.get("train/loss")
        parts = [f"step {step}/{total if math.isfinite(total) else '?'}"]
        if math.isfinite(total) and total:
            parts[0] += f" ({100 * step / total:.1f}%)"
        if loss is not None:
            parts.append(f"loss {float(loss):.4f}")
        parts += [f"{self._tokens / elapsed if elapsed > 0 else 0:,.0f} tok/s", f"elapsed {_duration(elapsed)}",
                  f"ETA {_duration(eta)}"]
        return " ".join(parts)

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        causal = getattr(getattr(pl_module, "backbone", None), "is_causal", True)
        self._tokens += batch_tokens(batch, causal)
        step = trainer.global_step
        if step != self._last_step and step % self.every_n_steps == 0:
            self._last_step = step
            self._emit(trainer, f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs} {self.status(trainer)}")

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        self._emit(trainer, f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs} done: {self.status(trainer)}")

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.sanity_checking:
            return
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items()
                   if k.startswith("val/") and k.count("/") == 1 and getattr(v, "numel", lambda: 1)() == 1}
        if metrics:
            text = " ".join(f"{k}={v:.4g}" for k, v in sorted(metrics.items()))
            self._emit(trainer, f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs} validation: {text}")


def progress_bar(refresh_rate: int = 1, every_n_steps: int = 50):
    """The rich bar on a terminal; :class:`LineProgress` when stdout is not one or ``CI`` is set."""
    if sys.stdout.isatty() and not os.environ.get("CI"):
        return RichProgressBar(refresh_rate=refresh_rate)
    return LineProgress(every_n_steps=every_n_steps)

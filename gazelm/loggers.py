"""Loggers: W&B offline unless the user opts in, grouped and named for sweeps; CSV that a resumed run appends to."""
from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import CSVLogger as _LightningCSVLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter
from lightning.pytorch.loggers.logger import rank_zero_experiment


def previous_run_id(save_dir: str | Path | None) -> str | None:
    """The id of the newest W&B run recorded under ``<save_dir>/wandb`` (``[offline-]run-<time>-<id>``)."""
    runs = sorted(Path(save_dir, "wandb").glob("*run-*-*"), key=lambda p: p.stat().st_mtime) if save_dir else []
    return runs[-1].name.rsplit("-", 1)[-1] if runs else None


def wandb_logger(project: str = "gazelm", **kwargs: Any):
    """A ``WandbLogger``; offline unless ``WANDB_MODE`` says otherwise.

    ``WandbLogger(offline=True)`` would set ``WANDB_MODE`` for the whole process (a
    pitfall across sweep jobs), so the mode is taken from the environment instead.
    A run directory that already holds a W&B run (``gazelm train resume=<run dir>``)
    continues that run: same id, ``resume="allow"``, its name kept.
    """
    from lightning.pytorch.loggers import WandbLogger

    os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.setdefault("WANDB_SILENT", "true")
    if not kwargs.get("id") and (run_id := previous_run_id(kwargs.get("save_dir"))):
        kwargs.pop("name", None)
        kwargs.update(id=run_id, resume="allow")
    return WandbLogger(project=project, **kwargs)


class _AppendingWriter(ExperimentWriter):
    """Lightning's CSV writer, except that an existing ``metrics.csv`` is continued, not deleted."""

    def _check_log_dir_exists(self) -> None:
        if self._fs.isfile(self.metrics_file_path):
            with self._fs.open(self.metrics_file_path, "r", newline="") as fh:
                self.metrics_keys = sorted(next(csv.reader(fh), []))


class CSVLogger(_LightningCSVLogger):
    """``csv/metrics.csv``; a resumed run (``gazelm train resume=<run dir>``) appends to its
    history (``gazelm.checkpoints`` first drops the rows logged after the checkpoint)."""

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _AppendingWriter(log_dir=self.log_dir)
        return self._experiment

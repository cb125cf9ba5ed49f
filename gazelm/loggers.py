"""Loggers: W&B offline unless the user opts in, grouped and named for sweeps."""
from __future__ import annotations

import os
from typing import Any


def wandb_logger(project: str = "gazelm", **kwargs: Any):
    """A ``WandbLogger``; offline unless ``WANDB_MODE`` says otherwise.

    ``WandbLogger(offline=True)`` would set ``WANDB_MODE`` for the whole process (a
    pitfall across sweep jobs), so the mode is taken from the environment instead.
    """
    from lightning.pytorch.loggers import WandbLogger

    os.environ.setdefault("WANDB_MODE", "offline")
    os.environ.setdefault("WANDB_SILENT", "true")
    return WandbLogger(project=project, **kwargs)

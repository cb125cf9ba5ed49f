"""The objective interface: ``loss(batch, outputs, module) -> (loss, logs)``.

An objective is a small class; the one LightningModule (:mod:`gazelm.models.module`) runs
the backbone forward and hands the objective the batch, the model outputs and itself.
Adding an objective is one file here plus one YAML in ``conf/objective/``.

Normalisation: ``module.items_normalizer(batch, key)`` returns the number that a *sum*
over this micro-batch must be divided by so that gradients equal the gradient of
``total sum / total items`` over the whole optimizer step (all gradient-accumulation
micro-batches on all DDP ranks), as TRL does with ``num_items_in_batch``.
``key`` names a per-window count stamped on every training batch by the DataModule:
``"n_label_tokens"`` (labels != -100) or ``"label_weight_sum"`` (sum of ``label_weights``
over those positions). Outside training it falls back to this batch's own count.
"""
from __future__ import annotations

from typing import Any, ClassVar, Sequence

import torch

Logs = dict[str, torch.Tensor]
Batch = dict[str, torch.Tensor]


class Objective:
    """Base class. ``needs`` lists extra model outputs, e.g. ``{"attentions"}``.

    Objectives that train with gaze say so (``uses_gaze``) and say, from real batches, when
    the gaze they would use carries no information (``gaze_problem``), so a run that would
    silently train its gaze-free baseline is stopped before training (:mod:`gazelm.preflight`).
    """

    needs: ClassVar[frozenset[str]] = frozenset()

    @property
    def uses_gaze(self) -> bool:
        """Whether the loss reads gaze values (weights, scanpath masks, human attention)."""
        return False

    @property
    def needs_causal_model(self) -> bool:
        """Whether the loss is only defined for causal (decoder-only) backbones."""
        return False

    def gaze_problem(self, batches: Sequence[Batch]) -> str | None:
        """Why this objective would train without gaze information on ``batches`` (``None``: it would not)."""
        return None

    def setup(self, module: Any) -> None:
        """Called once the module and backbone exist (e.g. to build a reference model)."""

    def loss(self, batch: dict[str, torch.Tensor], outputs: Any, module: Any) -> tuple[torch.Tensor, Logs]:
        raise NotImplementedError

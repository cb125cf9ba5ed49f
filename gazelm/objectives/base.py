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

from typing import Any, ClassVar

import torch
from torch import nn

Logs = dict[str, torch.Tensor]


class Objective:
    """Base class. ``needs`` lists extra model outputs, e.g. ``{"attentions"}``."""

    needs: ClassVar[frozenset[str]] = frozenset()

    def setup(self, module: Any) -> None:
        """Called once the module and backbone exist (e.g. to build a reference model)."""

    def modules(self) -> dict[str, nn.Module]:
        """Modules the objective owns and trains (e.g. soft prompts); the LightningModule registers
        them (``objective_modules.<name>``), so they are checkpointed and moved with it."""
        return {}

    def parameter_groups(self) -> list[dict[str, Any]]:
        """Optimizer groups for the objective's own parameters: ``{"params", "lr", "weight_decay",
        "max_grad_norm", "name"}`` (any key left out takes the ``optim`` defaults). Parameters not in
        a group here are grouped by the LightningModule (weight decay by shape)."""
        return []

    def attach_data(self, datamodule: Any) -> None:
        """Called with the DataModule before optimisation (e.g. to create per-user parameters)."""

    def forward(self, batch: dict[str, torch.Tensor], module: Any) -> Any:
        """The model outputs :meth:`loss` receives (default: the backbone on the batch)."""
        return module.backbone(batch, output_attentions="attentions" in self.needs)

    def eval_loss(self, batch: dict[str, torch.Tensor], module: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Summed token NLL of the labels and their count, for ``val/loss`` and ``test/loss``
        (default: plain cross-entropy of the backbone, so objectives compare on one scale)."""
        from gazelm.objectives.tokens import token_log_probs

        outputs = module.backbone(batch)
        logp, mask = token_log_probs(outputs.logits, batch["labels"], module.backbone.is_causal)
        return -logp.sum(), mask.sum()

    def loss(self, batch: dict[str, torch.Tensor], outputs: Any, module: Any) -> tuple[torch.Tensor, Logs]:
        raise NotImplementedError

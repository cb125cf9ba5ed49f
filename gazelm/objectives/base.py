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

Logs = dict[str, torch.Tensor]


class Objective:
    """Base class. ``needs`` lists extra model outputs, e.g. ``{"attentions"}``."""

    needs: ClassVar[frozenset[str]] = frozenset()
    # reads only per-token and per-example quantities, so packed rows (gazelm.data.packing) give
    # the same loss as one example per row; objectives comparing whole rows leave it False
    supports_packing: ClassVar[bool] = False

    def setup(self, module: Any) -> None:
        """Called once the module and backbone exist (e.g. to build a reference model)."""

    def scored_labels(self, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """The tokens whose log-probabilities ``loss`` reads (-100 elsewhere), or ``None`` when it
        needs the full logits. Naming them lets the backbone skip the vocabulary projection
        everywhere else; ``loss`` then gets their log-probs as ``outputs.log_probs`` /
        ``outputs.label_mask`` (read them with :func:`gazelm.objectives.tokens.output_log_probs`)."""
        return None

    def loss(self, batch: dict[str, torch.Tensor], outputs: Any, module: Any) -> tuple[torch.Tensor, Logs]:
        raise NotImplementedError

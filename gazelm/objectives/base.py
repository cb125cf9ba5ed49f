"""The objective interface: ``loss(batch, outputs, module) -> (loss, logs)`` and ``window_counts(batch)``.

An objective is a small class; the one LightningModule (:mod:`gazelm.models.module`) runs
the backbone forward and hands the objective the batch, the model outputs and itself.
Adding an objective is one file here plus one YAML in ``conf/objective/``.

Normalisation (exact under gradient accumulation and DDP, as TRL's ``num_items_in_batch``)
------------------------------------------------------------------------------------------
A loss is a *sum* over the micro-batch divided by ``module.items_normalizer(batch, key)``,
which is the total of count ``key`` over the whole optimizer step (every gradient-accumulation
micro-batch on every DDP rank), scaled so that Lightning's ``1/accumulate`` and DDP's
``1/world`` averaging give exactly the gradient of ``total sum / total count``.

The counts come from the objective itself: :meth:`Objective.window_counts` returns, for one
micro-batch, every count its loss divides by (0-d tensors that add up over micro-batches).
The DataModule's training loader calls it on the micro-batches of each optimizer step, adds
them and stamps the totals on every micro-batch as ``window_<key>``; ``items_normalizer``
all-reduces them over ranks. Outside training (or without stamps) it falls back to this
micro-batch's own ``window_counts``. So an objective with a new denominator only overrides
``window_counts``; nothing in ``gazelm.data`` knows about objectives.

Rules for ``window_counts``: return a dict ``key -> 0-d tensor`` that is a plain *sum over the
examples of the micro-batch* (so the sum over micro-batches is the step's count), computed
from the batch alone (no model outputs), cheap, and containing every key the loss passes
to ``items_normalizer`` (an objective that wraps others merges their counts). Count
examples with :func:`example_count` and label tokens with :func:`label_token_count`, so a
collate function that packs several examples into one row only needs to keep those exact.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from gazelm.objectives.tokens import IGNORE_INDEX

Logs = dict[str, torch.Tensor]
Batch = dict[str, torch.Tensor]
Counts = dict[str, torch.Tensor]


def label_token_count(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Positions that carry a label (``labels != -100``)."""
    return (batch["labels"] != IGNORE_INDEX).sum()


def example_count(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Examples in the micro-batch: one ``example_index`` entry per example (rows otherwise)."""
    index = batch.get("example_index")
    n = index.shape[0] if index is not None else batch["labels"].shape[0]
    return torch.tensor(n, device=batch["labels"].device)


class Objective:
    """Base class: plain objectives set ``needs`` (extra model outputs, e.g. ``{"attentions"}``)
    as a class attribute; objectives that wrap others make it a property of their parts.

    Objectives that train with gaze say so (``uses_gaze``) and say, from real batches, when
    the gaze they would use carries no information (``gaze_problem``), so a run that would
    silently train its gaze-free baseline is stopped before training (:mod:`gazelm.preflight`).
    """

    needs: frozenset[str] = frozenset()
    # reads only per-token and per-example quantities, so packed rows (gazelm.data.packing) give
    # the same loss as one example per row; objectives comparing whole rows leave it False
    supports_packing: bool = False

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

    def window_counts(self, batch: dict[str, torch.Tensor]) -> Counts:
        """The counts this objective's loss divides by, for one micro-batch (see the module
        docstring). Default: the number of label tokens, ``n_label_tokens``."""
        return {"n_label_tokens": label_token_count(batch)}

    def scored_labels(self, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
        """The tokens whose log-probabilities ``loss`` reads (-100 elsewhere), or ``None`` when it
        needs the full logits. Naming them lets the backbone skip the vocabulary projection
        everywhere else; ``loss`` then gets their log-probs as ``outputs.log_probs`` /
        ``outputs.label_mask`` (read them with :func:`gazelm.objectives.tokens.output_log_probs`)."""
        return None

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
        """The model outputs :meth:`loss` receives (default: the backbone on the batch, projecting
        only the :meth:`scored_labels` positions onto the vocabulary)."""
        return module.backbone(batch, output_attentions="attentions" in self.needs, labels=self.scored_labels(batch))

    def eval_loss(self, batch: dict[str, torch.Tensor], module: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Summed token NLL of the labels and their count, for ``val/loss`` and ``test/loss``
        (default: plain cross-entropy of the backbone, so objectives compare on one scale)."""
        from gazelm.objectives.tokens import output_log_probs

        outputs = module.backbone(batch, labels=batch["labels"])
        logp, mask = output_log_probs(outputs, batch["labels"], module.backbone.is_causal)
        return -logp.sum(), mask.sum()

    def loss(self, batch: dict[str, torch.Tensor], outputs: Any, module: Any) -> tuple[torch.Tensor, Logs]:
        raise NotImplementedError

"""Plain token cross-entropy, normalised by the number of loss tokens in the step."""
from __future__ import annotations

from typing import Any

import torch

from gazelm.objectives.base import Counts, Logs, Objective
from gazelm.objectives.eyemulator import COUNT_KEYS, COUNTS, LOSS_ON, loss_labels
from gazelm.objectives.tokens import output_log_probs


class CrossEntropy(Objective):
    """L = −Σ_t log P(y_t | ·) / N, N = loss tokens in the optimizer step (all ranks).

    ``loss_on``: ``target`` (the labels; default) or, for causal models, ``input`` / ``both``:
    also the source code tokens of the prompt, the positions ``eyemulator`` weights with
    ``loss_on`` set alike, so CE with the same ``loss_on`` is its gaze-free baseline.
    """

    supports_packing = True

    def __init__(self, loss_on: str = "target"):
        if loss_on not in LOSS_ON:
            raise ValueError(f"ce: unknown loss_on {loss_on!r}; expected one of {', '.join(LOSS_ON)}")
        self.loss_on = loss_on

    @property
    def needs_causal_model(self) -> bool:
        return self.loss_on != "target"

    def window_counts(self, batch: dict[str, torch.Tensor]) -> Counts:
        return {key: COUNTS[key](batch) for key in COUNT_KEYS["active_tokens"][self.loss_on]}

    def scored_labels(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return loss_labels(batch, self.loss_on)

    def loss(self, batch: dict[str, torch.Tensor], outputs: Any, module: Any) -> tuple[torch.Tensor, Logs]:
        logp, mask = output_log_probs(outputs, self.scored_labels(batch), module.backbone.is_causal)
        total = -logp.sum()
        loss = total / sum(module.items_normalizer(batch, k) for k in COUNT_KEYS["active_tokens"][self.loss_on])
        return loss, {"ce": total.detach() / mask.sum().clamp(min=1)}

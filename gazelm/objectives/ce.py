"""Plain token cross-entropy, normalised by the number of label tokens in the step."""
from __future__ import annotations

from typing import Any

import torch

from gazelm.objectives.base import Logs, Objective
from gazelm.objectives.tokens import output_log_probs


class CrossEntropy(Objective):
    """L = −Σ_t log P(y_t | ·) / N, N = label tokens in the optimizer step (all ranks)."""

    supports_packing = True

    def scored_labels(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return batch["labels"]

    def loss(self, batch: dict[str, torch.Tensor], outputs: Any, module: Any) -> tuple[torch.Tensor, Logs]:
        logp, mask = output_log_probs(outputs, batch["labels"], module.backbone.is_causal)
        total = -logp.sum()
        loss = total / module.items_normalizer(batch, "n_label_tokens")
        return loss, {"ce": total.detach() / mask.sum().clamp(min=1)}

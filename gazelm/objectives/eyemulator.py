"""EyeMulator: token cross-entropy weighted by human-attention (gaze) weights.

Paper formula (EyeMulator, §2.4; the release's ``$GAZELM_DATA_DIR/eyemulator/docs/method_integration.md``)::

    L = −(1/N) Σ_j w_j · log P(x_j | x_<j)

with ``w_j`` the gaze weight of the code token that position ``j`` belongs to (1.0 off the
scanpath) and ``N`` the number of active positions (``normalize: active_tokens``) or
``Σ w_j`` over them (``normalize: weight_sum``). ``N`` is the total over the optimizer step
(all gradient-accumulation micro-batches and DDP ranks), through
``module.items_normalizer``, so accumulation is exact, as TRL normalises.

``scope: example`` (the released code's variant) puts one weight per example, the max or
mean of its source code-token weights, on every target token. ``scope: auto`` is ``token``
where the task's target is code and ``example`` where it is natural language
(``target_language: text``, e.g. summarization), whose tokens carry no gaze weight.

For causal models ``loss_on`` chooses which positions carry loss: ``target`` (the labels),
``input`` (the source code tokens of the prompt, predicted from their prefix, weighted with
their own gaze weights) or ``both``. Encoder-decoder models do not predict their input, so
they support ``target`` only.
"""
from __future__ import annotations

from typing import Any

import torch

from gazelm.data.packing import example_starts, example_values_per_token, per_example
from gazelm.objectives.base import Counts, Logs, Objective, label_token_count
from gazelm.objectives.tokens import IGNORE_INDEX, align_for_causal, output_log_probs

SCOPES = ("token", "example", "auto")
REDUCES = ("max", "mean")
LOSS_ON = ("target", "input", "both")
NORMALIZE = ("active_tokens", "weight_sum")


def example_weights(input_weights: torch.Tensor, code_token_mask: torch.Tensor, reduce: str = "max",
                    batch: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
    """One weight per example: max or mean of ``input_weights`` over its code tokens (1.0 if none).

    Examples are the rows, or the segments of a packed ``batch`` (:mod:`gazelm.data.packing`)."""
    if reduce not in REDUCES:
        raise ValueError(f"unknown reduce {reduce!r}; expected one of {', '.join(REDUCES)}")
    rows = {"input_ids": input_weights, "labels": input_weights}  # one example per row
    return per_example(input_weights, code_token_mask, batch if batch is not None else rows, reduce)


def loss_labels(batch: dict[str, torch.Tensor], loss_on: str) -> torch.Tensor:
    """Token ids with a loss for ``loss_on`` (``target`` | ``input`` | ``both``), -100 elsewhere."""
    if loss_on not in LOSS_ON:
        raise ValueError(f"unknown loss_on {loss_on!r}; expected one of {', '.join(LOSS_ON)}")
    if loss_on == "target":
        return batch["labels"]
    code_labels = input_code_labels(batch)
    if loss_on == "input":
        return code_labels
    on_target = batch["labels"] != IGNORE_INDEX
    return torch.where(on_target, batch["labels"], code_labels)


#: The window counts that normalise a loss on ``loss_on`` positions by their number / weight sum.
COUNT_KEYS = {"active_tokens": {"target": ("n_label_tokens",), "input": ("n_input_code_tokens",),
                                "both": ("n_label_tokens", "n_input_code_tokens")},
              "weight_sum": {"target": ("label_weight_sum",), "input": ("input_code_weight_sum",),
                             "both": ("label_weight_sum", "input_code_weight_sum")}}


def input_code_labels(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """``input_ids`` at source code-token positions (excluding each example's first position,
    which no causal model predicts), -100 elsewhere: the input tokens an ``input`` loss scores."""
    code = batch["code_token_mask"].bool() & ~example_starts(batch)
    return batch["input_ids"].masked_fill(~code, IGNORE_INDEX)


def _code_positions(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    return input_code_labels(batch) != IGNORE_INDEX


def _example_weight_sum(reduce: str):
    def count(batch: dict[str, torch.Tensor]) -> torch.Tensor:
        w = example_weights(batch["input_weights"], batch["code_token_mask"], reduce, batch)
        return (example_values_per_token(w, batch, batch["labels"]) * (batch["labels"] != IGNORE_INDEX)).sum()
    return count


#: What ``N`` is made of, per micro-batch: label tokens, Σ ``label_weights`` over them, input
#: code-token positions (each example's first one excluded; and Σ ``input_weights`` over them),
#: Σ over examples of the example weight × its label tokens — per example, also in packed rows.
COUNTS = {
    "n_label_tokens": label_token_count,
    "label_weight_sum": lambda b: (b["label_weights"].float() * (b["labels"] != IGNORE_INDEX)).sum(),
    "n_input_code_tokens": lambda b: _code_positions(b).sum(),
    "input_code_weight_sum": lambda b: (b["input_weights"].float() * _code_positions(b)).sum(),
    **{f"example_{reduce}_weight_sum": _example_weight_sum(reduce) for reduce in REDUCES},
}


class EyeMulator(Objective):
    """Gaze-weighted cross-entropy (see the module docstring for the formula and options)."""

    uses_gaze = True
    supports_packing = True

    def __init__(self, scope: str = "token", reduce: str = "max", loss_on: str = "target",
                 normalize: str = "active_tokens", target_language: str | None = None):
        for name, value, allowed in (("scope", scope, SCOPES), ("reduce", reduce, REDUCES),
                                     ("loss_on", loss_on, LOSS_ON), ("normalize", normalize, NORMALIZE)):
            if value not in allowed:
                raise ValueError(f"eyemulator: unknown {name} {value!r}; expected one of {', '.join(allowed)}")
        if scope == "auto":
            scope = "example" if target_language == "text" and loss_on == "target" else "token"
        if scope == "example" and loss_on != "target":
            raise ValueError("eyemulator: scope=example weights the target tokens only; use loss_on=target")
        self.scope, self.reduce, self.loss_on, self.normalize = scope, reduce, loss_on, normalize

    @property
    def needs_causal_model(self) -> bool:
        return self.loss_on != "target"

    def gaze_problem(self, batches) -> str | None:
        """All weights on the loss positions equal (1.0 when no token carries gaze): the loss is a
        multiple of cross-entropy, i.e. the CE baseline."""
        values = torch.cat([w[labels != IGNORE_INDEX].float() for labels, w in map(self._positions, batches)])
        if values.numel() and not bool((values == values[0]).all()):
            return None
        constant = f"{values[0].item():g}" if values.numel() else "absent"
        hint = ("objective.scope=example (one weight per example from its source code) or objective.loss_on=both "
                "(causal models also learn the weighted input code)") if self.scope == "token" else (
                "a gaze provider whose weights vary between examples (gaze.weights_variant=full), or objective.reduce=mean")
        return (f"eyemulator (scope={self.scope}, loss_on={self.loss_on}): every gaze weight on the loss positions "
                f"is {constant}, so the loss is a multiple of plain cross-entropy; set {hint}")

    def _check_backbone(self, causal: bool) -> None:
        if self.loss_on != "target" and not causal:
            raise ValueError(f"eyemulator: loss_on={self.loss_on} needs a causal model; an encoder-decoder "
                             "model does not predict its input tokens (use loss_on=target)")

    def setup(self, module: Any) -> None:
        self._check_backbone(module.backbone.is_causal)

    def _positions(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids to score (−100 = no loss) and their weights, aligned with the batch."""
        if self.scope == "example":
            w = example_weights(batch["input_weights"], batch["code_token_mask"], self.reduce, batch)
            return batch["labels"], example_values_per_token(w, batch, batch["labels"])
        weights = {"target": batch["label_weights"], "input": batch["input_weights"]}.get(self.loss_on)
        if weights is None:  # both
            weights = torch.where(batch["labels"] != IGNORE_INDEX, batch["label_weights"], batch["input_weights"])
        return loss_labels(batch, self.loss_on), weights

    def _normalizer_keys(self) -> tuple[str, ...]:
        """The counts ``N`` is made of (their sum, for ``loss_on=both``)."""
        if self.scope == "example":
            return ("n_label_tokens",) if self.normalize == "active_tokens" else (f"example_{self.reduce}_weight_sum",)
        return COUNT_KEYS[self.normalize][self.loss_on]

    def window_counts(self, batch: dict[str, torch.Tensor]) -> Counts:
        """The counts of :data:`COUNTS` this configuration divides by."""
        return {key: COUNTS[key](batch) for key in self._normalizer_keys()}

    def _normalizer(self, batch: dict[str, torch.Tensor], module: Any) -> torch.Tensor:
        return sum(module.items_normalizer(batch, k) for k in self._normalizer_keys())

    def scored_labels(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self._positions(batch)[0]

    def loss(self, batch: dict[str, torch.Tensor], outputs: Any, module: Any) -> tuple[torch.Tensor, Logs]:
        causal = module.backbone.is_causal
        self._check_backbone(causal)
        labels, weights = self._positions(batch)
        logp, mask = output_log_probs(outputs, labels, causal)
        w = align_for_causal(weights, causal).float() * mask
        total = -(w * logp).sum()
        loss = total / self._normalizer(batch, module)
        n = mask.sum().clamp(min=1)
        return loss, {"ce": (-logp.sum() / n).detach(), "weighted_ce": (total / n).detach(),
                      "weight_mean": (w.sum() / n).detach()}

"""Gaze-path preference: ``L = L_SFT + γ · L_pref`` (EyeMulator extended version, §3b of
the release's ``$GAZELM_DATA_DIR/eyemulator/docs/method_integration.md``; a token-level DPO after Rafailov et al. 2023).

Over the input code tokens ``x_j`` (``code_token_mask``), with the (pseudo-)scanpath
``P̃`` (``gaze_mask``) as the preferred set and the other code tokens as the dispreferred::

    r_j    = log π_φ(x_j | x_<j) − log π_ref(x_j | x_<j)
    L_pref = −log σ(β · (mean_{j∈P̃} r_j − mean_{j∉P̃} r_j))

averaged over the examples of the optimizer step (``items_normalizer(batch, "n_examples")``;
an example without both a path and an off-path code token contributes 0).
``π_ref`` is the frozen starting model: under LoRA the same model with its adapters disabled
(``model.disable_adapter()``, no second copy in memory); without LoRA a frozen deep copy made
in :meth:`GazePreference.setup`. ``L_SFT`` defaults to :class:`EyeMulator` (token scope).

Causal models only: ``r_j`` needs ``log π(x_j | x_<j)`` of the *input* code tokens, which an
encoder-decoder model never predicts (its encoder reads them bidirectionally), so
``setup`` raises a clear error for encoder-decoder backbones instead of inventing a
reconstruction task that the paper does not define.
"""
from __future__ import annotations

import copy
from typing import Any

import torch
import torch.nn.functional as F

from gazelm.objectives.base import Counts, Logs, Objective, example_count
from gazelm.objectives.eyemulator import EyeMulator, input_code_labels
from gazelm.objectives.rewards import eval_mode
from gazelm.objectives.tokens import IGNORE_INDEX


def code_token_log_probs(logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Causal ``log π(x_j | x_<j)`` of the input code tokens, [B, T-1] aligned like
    :func:`~gazelm.objectives.tokens.token_log_probs`, 0 elsewhere, and their mask.

    Only the code-token rows go through the log-softmax (not every position of the batch),
    which keeps the preference term's extra memory proportional to the code length.
    """
    labels = input_code_labels(batch)[:, 1:]
    mask = labels != IGNORE_INDEX
    rows = logits[:, :-1][mask].float()
    logp = -F.cross_entropy(rows, labels[mask], reduction="none")
    return torch.zeros(mask.shape, dtype=logp.dtype, device=logp.device).masked_scatter(mask, logp), mask


def preference_loss(r: torch.Tensor, path: torch.Tensor, off_path: torch.Tensor, beta: float
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-example ``−log σ(β (mean_path r − mean_off r))``, its margin and validity.

    ``r``, ``path``, ``off_path``: [B, T]; invalid examples (an empty set) get loss 0.
    """
    n_path, n_off = path.sum(-1), off_path.sum(-1)
    mean_path = (r * path).sum(-1) / n_path.clamp(min=1)
    mean_off = (r * off_path).sum(-1) / n_off.clamp(min=1)
    margin = mean_path - mean_off
    valid = (n_path > 0) & (n_off > 0)
    loss = -F.logsigmoid(beta * margin)
    return torch.where(valid, loss, torch.zeros_like(loss)), margin, valid


class GazePreference(Objective):
    """``L_SFT + γ · L_pref`` with ``γ = gamma``, ``β = beta`` (0.1 each by default)."""

    uses_gaze = True
    needs_causal_model = True

    def __init__(self, gamma: float = 0.1, beta: float = 0.1, sft: Objective | None = None):
        self.gamma, self.beta = float(gamma), float(beta)
        self.sft = sft if sft is not None else EyeMulator()
        self._reference: torch.nn.Module | None = None

    @property
    def needs(self) -> frozenset[str]:  # type: ignore[override]
        return frozenset(self.sft.needs)

    def window_counts(self, batch: dict[str, torch.Tensor]) -> Counts:
        """The SFT term's counts and ``n_examples`` (the preference term is a mean over examples)."""
        return {**self.sft.window_counts(batch), "n_examples": example_count(batch)}

    def gaze_problem(self, batches) -> str | None:
        """No example with code tokens both on and off the (pseudo-)scanpath: no preference pair."""
        for batch in batches:
            code = batch["code_token_mask"][:, 1:].bool()
            on_path = code & batch["gaze_mask"][:, 1:].bool()
            if bool(((on_path.any(-1)) & ((code & ~on_path).any(-1))).any()):
                return None  # the preference term carries gaze (whatever its SFT term does)
        return ("gaze_preference: no example has input code tokens both on and off the scanpath (gaze_mask), "
                "so the preference term is constant; use a gaze provider that draws scanpaths "
                "(gaze=eyemulator_priors) on code inputs")

    def setup(self, module: Any) -> None:
        backbone = module.backbone
        if not backbone.is_causal:
            raise ValueError("gaze_preference needs a causal model: its log-ratios r_j score the input code "
                             "tokens, which an encoder-decoder model does not predict. Use eyemulator or "
                             "reward_sft for encoder-decoder backbones.")
        self.sft.setup(module)
        if backbone.has_lora or self.gamma == 0.0:
            self._reference = None
            return
        reference = copy.deepcopy(backbone.model)
        reference.eval()
        for p in reference.parameters():
            p.requires_grad_(False)
        self._reference = reference

    def reference_logits(self, batch: dict[str, torch.Tensor], module: Any,
                         positions: torch.Tensor | None = None) -> torch.Tensor:
        """Logits of ``π_ref`` on the batch (no gradient, eval mode); with ``positions``, only
        those sequence positions go through the LM head (``logits_to_keep``)."""
        model = module.backbone.model
        inputs: dict[str, Any] = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"],
                                  "use_cache": False}
        if positions is not None:
            inputs["logits_to_keep"] = positions
        with torch.no_grad():
            if module.backbone.has_lora:
                with eval_mode(model), model.disable_adapter():
                    return model(**inputs).logits
            if self._reference is None:
                self.setup(module)
            ref = self._reference
            assert ref is not None
            device = batch["input_ids"].device
            if next(ref.parameters()).device != device:
                ref.to(device)
            return ref(**inputs).logits

    def reference_code_log_probs(self, batch: dict[str, torch.Tensor], module: Any) -> torch.Tensor:
        """``log π_ref`` of the input code tokens, [B, T-1] like :func:`code_token_log_probs`.

        Only positions that predict a code token in some row reach the reference's LM head —
        on a large vocabulary the head costs as much as the layers.
        """
        labels = input_code_labels(batch)[:, 1:]
        mask = labels != IGNORE_INDEX
        positions = mask.any(0).nonzero().squeeze(-1)
        try:
            logits = self.reference_logits(batch, module, positions)
        except TypeError:  # a model without ``logits_to_keep``: the whole sequence
            return code_token_log_probs(self.reference_logits(batch, module), batch)[0]
        if logits.shape[1] != positions.numel():  # the model ignored the request
            return code_token_log_probs(logits, batch)[0]
        sub_mask, sub_labels = mask[:, positions], labels[:, positions]
        logp = -F.cross_entropy(logits[sub_mask].float(), sub_labels[sub_mask], reduction="none")
        kept = torch.zeros(sub_mask.shape, dtype=logp.dtype, device=logp.device).masked_scatter(sub_mask, logp)
        out = torch.zeros(mask.shape, dtype=logp.dtype, device=logp.device)
        out[:, positions] = kept
        return out

    def loss(self, batch: dict[str, torch.Tensor], outputs: Any, module: Any) -> tuple[torch.Tensor, Logs]:
        sft_loss, logs = self.sft.loss(batch, outputs, module)
        if self.gamma == 0.0:
            return sft_loss, logs
        if not module.backbone.is_causal:
            self.setup(module)  # raises the encoder-decoder error
        policy, code = code_token_log_probs(outputs.logits, batch)
        reference = self.reference_code_log_probs(batch, module)
        r = policy - reference
        on_path = code & batch["gaze_mask"][:, 1:].bool()
        per_example, margin, valid = preference_loss(r, on_path, code & ~on_path, self.beta)
        pref = per_example.sum() / module.items_normalizer(batch, "n_examples")
        n_valid = valid.sum().clamp(min=1)
        logs = {**logs, "pref_loss": pref.detach(), "pref_margin": ((margin * valid).sum() / n_valid).detach(),
                "pref_valid": valid.float().mean().detach()}
        return sft_loss + self.gamma * pref, logs

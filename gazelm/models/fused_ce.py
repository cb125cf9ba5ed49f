"""``model.fused_ce: true``: token log-probs from liger-kernel's fused linear cross-entropy.

The vocabulary projection and the cross-entropy run chunk by chunk in one Triton kernel, so
the ``[tokens, vocab]`` logits are never materialised: for large vocabularies (Qwen2.5's
151,936, Llama 3's 128,256) that is most of a step's activation memory. Only the positions
that predict a label are projected. Per-token losses (``reduction="none"``, liger ≥ 0.8.2)
keep gaze weights exact: EyeMulator multiplies them by its weights as with plain logits.

liger-kernel needs Triton and a CUDA GPU. It is an optional dependency
(``pip install 'gazelm[gpu]'``); on CPU, or without it, gazelm stops with one clear error.
"""
from __future__ import annotations

import importlib
from typing import Any

import torch
import torch.nn.functional as F

from gazelm.errors import GazelmInputError
from gazelm.objectives.tokens import IGNORE_INDEX, predicting_mask

FIELD = "model.fused_ce"
# config attributes with which a model transforms its logits after the LM head; liger applies
# a soft-cap itself but no scale, so such models keep the plain path
SCALES = ("logit_scale", "output_multiplier", "lm_head_multiplier", "logits_scaling")


def liger_cross_entropy():
    """liger-kernel's ``liger_fused_linear_cross_entropy``, or a clear error without it."""
    try:
        return importlib.import_module("liger_kernel.transformers.functional").liger_fused_linear_cross_entropy
    except ImportError as err:
        raise GazelmInputError(
            f"model.fused_ce=true needs liger-kernel, which is not installed ({err}); install it with "
            "`pip install 'gazelm[gpu]'` on a CUDA machine, or set model.fused_ce=false", field=FIELD) from None


def check_fused_ce(backbone: Any) -> None:
    """Fail at build time when the fused path cannot run for this backbone."""
    if not backbone.is_causal:
        raise GazelmInputError("model.fused_ce=true is for causal LMs (the fused kernel takes the decoder's "
                               "hidden states); set model.fused_ce=false for encoder-decoder models", field=FIELD)
    config = backbone.base.config.get_text_config()
    scaled = [name for name in SCALES if getattr(config, name, None) not in (None, 1, 1.0)]
    if scaled:
        raise GazelmInputError(f"model.fused_ce=true: this model scales its logits ({', '.join(scaled)}), which "
                               "the fused kernel does not; set model.fused_ce=false", field=FIELD)
    liger_cross_entropy()


def require_cuda(tensor: torch.Tensor) -> None:
    if tensor.device.type != "cuda":
        raise GazelmInputError(f"model.fused_ce=true runs liger-kernel's Triton kernel, which needs a CUDA GPU; "
                               f"the model is on {tensor.device.type} (set model.fused_ce=false)", field=FIELD)


def fused_log_probs(backbone: Any, kwargs: dict[str, Any], labels: torch.Tensor):
    """Causal LM forward to the last hidden state, then liger's fused head + CE at the label positions."""
    from gazelm.models.backbones import ScoredOutput

    base = backbone.base
    hidden_out = base.base_model(**kwargs)
    hidden = hidden_out.last_hidden_state
    require_cuda(hidden)
    mask = predicting_mask(labels, causal=True)
    targets = F.pad(labels, (0, 1), value=IGNORE_INDEX)[:, 1:][mask]
    head = base.get_output_embeddings()
    softcap = getattr(base.config.get_text_config(), "final_logit_softcapping", None)
    loss = liger_cross_entropy()(hidden[mask], head.weight, targets, bias=head.bias, reduction="none",
                                 softcap=softcap)
    logp = (-loss).float()
    logp = logp.new_zeros(mask.shape).masked_scatter(mask, logp)
    return ScoredOutput(logp[:, :-1], mask[:, :-1], getattr(hidden_out, "attentions", None))

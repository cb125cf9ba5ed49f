"""``kernel_shap`` (Lundberg & Lee, 2017) through captum; one feature per input token.

A token is "absent" when its embedding is zero; ``n_samples`` coalitions are evaluated,
``perturbations_per_eval`` per forward batch. Seeded by ``seed`` for reproducibility.
"""
from __future__ import annotations

import torch
from torch import Tensor

from gazelm.attention.forward import embed, forward_args, score_function
from gazelm.attention.operators import register_operator
from gazelm.attention.target import Target, resolve_target


@register_operator("kernel_shap")
def kernel_shap(model, input_ids: Tensor, attention_mask: Tensor | None = None, target: Target = Target(),
                *, n_samples: int = 64, perturbations_per_eval: int = 16, seed: int = 0, **_: object) -> Tensor:
    """Shapley-value estimate per input token (captum solves one regression per example)."""
    rt = resolve_target(model, input_ids, attention_mask, target)
    embeds = embed(model, rt.input_ids).detach()
    batch, width, dim = embeds.shape
    feature_mask = torch.arange(width, device=embeds.device).view(1, width, 1).expand(1, width, dim)
    from captum.attr import KernelShap  # imported here: only this operator needs captum

    shap = KernelShap(score_function(model, rt, target.score))
    forward = forward_args(rt)
    rows = []
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        with torch.no_grad():
            for b in range(batch):  # captum's KernelShap fits one surrogate per example
                args = tuple(t[b:b + 1] for t in forward)
                attr = shap.attribute(embeds[b:b + 1], baselines=0.0, feature_mask=feature_mask,
                                      additional_forward_args=args, n_samples=n_samples,
                                      perturbations_per_eval=perturbations_per_eval)
                rows.append(attr[0, :, 0])
    finally:
        torch.random.set_rng_state(generator_state)
    return rt.restore(torch.stack(rows))

"""The optimizer is config: Hydra partials, weight decay by shape, objective groups, per-group clipping."""
from __future__ import annotations

import types
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from transformers import GPTBigCodeConfig, GPTBigCodeForCausalLM, LlamaConfig, LlamaForCausalLM

from gazelm.models.backbones import Backbone
from gazelm.models.module import GazeLM
from gazelm.models.optim import clip_group_gradients, decay_groups
from gazelm.objectives.ce import CrossEntropy
from gazelm.objectives.fixate import Fixate
from tests.helpers.compose import compose_config


class _Tok:
    pad_token_id, eos_token_id = 0, 1


def _optimizers(module: GazeLM, steps: int = 10):
    module._trainer = types.SimpleNamespace(estimated_stepping_batches=steps)
    out = module.configure_optimizers()
    module._trainer = None
    return out["optimizer"], out["lr_scheduler"]["scheduler"]


def _groups_by_param(optimizer) -> dict[int, dict]:
    return {id(p): g for g in optimizer.param_groups for p in g["params"]}


def test_gpt_bigcode_norms_get_no_weight_decay() -> None:
    """StarCoder's ln_1 / ln_2 / ln_f: missed by the old name list, caught by shape."""
    model = GPTBigCodeForCausalLM(GPTBigCodeConfig(vocab_size=40, n_embd=16, n_layer=2, n_head=2, n_positions=32))
    module = GazeLM(Backbone(model, _Tok(), "causal", "bigcode"), CrossEntropy(),
                    optim={"_target_": "torch.optim.AdamW", "_partial_": True, "lr": 1e-3, "weight_decay": 0.1})
    optimizer, _ = _optimizers(module)
    groups = _groups_by_param(optimizer)
    named = dict(module.named_parameters())
    for name in ("backbone.model.transformer.h.0.ln_1.weight", "backbone.model.transformer.h.1.ln_2.weight",
                 "backbone.model.transformer.ln_f.weight", "backbone.model.transformer.h.0.attn.c_attn.bias"):
        assert groups[id(named[name])]["weight_decay"] == 0.0, name
    assert groups[id(named["backbone.model.transformer.h.0.attn.c_attn.weight"])]["weight_decay"] == 0.1
    assert all(p.ndim >= 2 for g in optimizer.param_groups if g["weight_decay"] > 0 for p in g["params"])


def test_decay_groups_by_shape_only() -> None:
    params = [("a.weight", torch.nn.Parameter(torch.zeros(2, 2))), ("norm.scale", torch.nn.Parameter(torch.zeros(2))),
              ("x", torch.nn.Parameter(torch.zeros(())))]
    groups = {g["name"]: g for g in decay_groups(params, 0.01)}
    assert [p.shape for p in groups["decay"]["params"]] == [(2, 2)] and groups["decay"]["weight_decay"] == 0.01
    assert len(groups["no_decay"]["params"]) == 2 and groups["no_decay"]["weight_decay"] == 0.0


def _fixate_module() -> GazeLM:
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=40, hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
                      num_key_value_heads=2, max_position_embeddings=32, attn_implementation="eager")
    objective = Fixate(operator={"name": "rollout", "last_k": 2}, n_basis=3, n_tokens=2)
    module = GazeLM(Backbone(LlamaForCausalLM(cfg), _Tok(), "causal", "tiny"), objective,
                    optim={"_target_": "torch.optim.AdamW", "_partial_": True, "lr": 5e-2, "weight_decay": 0.3})
    objective.attach_data(types.SimpleNamespace(users=["ann", "bob"]))
    return module


def test_objective_groups_have_their_own_lr_decay_and_clipping() -> None:
    module = _fixate_module()
    optimizer, _ = _optimizers(module)
    by_name = {g["name"]: g for g in optimizer.param_groups}
    assert set(by_name) == {"soft_prompt.basis", "soft_prompt.user_logits"}  # the frozen backbone has none
    assert by_name["soft_prompt.basis"]["lr"] == 1e-3 and by_name["soft_prompt.basis"]["weight_decay"] == 1e-3
    assert by_name["soft_prompt.basis"]["max_grad_norm"] == 100.0
    assert by_name["soft_prompt.user_logits"]["max_grad_norm"] == 5.0
    assert len(by_name["soft_prompt.user_logits"]["params"]) == 2


def test_per_group_gradient_clipping() -> None:
    module = _fixate_module()
    optimizer, _ = _optimizers(module)
    prompt = module.objective.soft_prompt
    prompt.basis.grad = torch.full_like(prompt.basis, 1000.0)
    for p in prompt.user_logits.values():
        p.grad = torch.full_like(p, 50.0)
    module.configure_gradient_clipping(optimizer, gradient_clip_val=1.0, gradient_clip_algorithm="norm")
    assert prompt.basis.grad.norm().item() == pytest.approx(100.0, rel=1e-4)
    joint = torch.cat([p.grad for p in prompt.user_logits.values()]).norm().item()
    assert joint == pytest.approx(5.0, rel=1e-4)  # the group is clipped as one (FixATE)


def test_bf16_mixed_clips_with_the_fused_optimizer() -> None:
    """``trainer=gpu`` (bf16-mixed) with the default fused AdamW and ``gradient_clip_val``: Lightning's
    plugin refuses to clip for an optimizer that unscales itself; gazelm clips (no scaler in bf16)."""
    from lightning.pytorch.plugins.precision import MixedPrecision

    model = LlamaForCausalLM(LlamaConfig(vocab_size=40, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=2))
    module = GazeLM(Backbone(model, _Tok(), "causal", "tiny"), CrossEntropy(),
                    optim={"_target_": "torch.optim.AdamW", "_partial_": True, "lr": 1e-3, "weight_decay": 0.1})
    optimizer, _ = _optimizers(module)
    assert optimizer.defaults["fused"]  # gazelm's default on CPU/CUDA parameters
    for p in module.parameters():
        p.grad = torch.full_like(p, 3.0)
    module._trainer = types.SimpleNamespace(precision_plugin=MixedPrecision("bf16-mixed", "cpu"))
    module.configure_gradient_clipping(optimizer, gradient_clip_val=1.0, gradient_clip_algorithm="norm")
    total = torch.cat([p.grad.flatten() for p in module.parameters()]).norm().item()
    assert total == pytest.approx(1.0, rel=1e-5)


def test_groups_without_a_limit_use_the_trainer_value() -> None:
    a, b = torch.nn.Parameter(torch.zeros(3)), torch.nn.Parameter(torch.zeros(3))
    opt = torch.optim.SGD([{"params": [a], "max_grad_norm": 2.0}, {"params": [b]}], lr=0.1)
    a.grad, b.grad = torch.full((3,), 10.0), torch.full((3,), 10.0)
    norms = clip_group_gradients(opt, 1.0)
    assert a.grad.norm().item() == pytest.approx(2.0, rel=1e-5) and b.grad.norm().item() == pytest.approx(1.0, rel=1e-5)
    assert norms["0"].item() == pytest.approx(10 * 3 ** 0.5, rel=1e-5)


def test_optimizer_and_scheduler_swap_in_yaml(tmp_path: Path) -> None:
    cfg = compose_config(["optim=sgd", "scheduler=linear", "scheduler.warmup_steps=2"], output_dir=tmp_path)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=40, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=2))
    module = GazeLM(Backbone(model, _Tok(), "causal", "tiny"), CrossEntropy(), optim=cfg.optim,
                    scheduler=cfg.scheduler)
    optimizer, scheduler = _optimizers(module, steps=10)
    assert isinstance(optimizer, torch.optim.SGD) and optimizer.defaults["momentum"] == 0.9
    assert scheduler.get_last_lr()[0] == 0.0  # linear warm-up from 0 over 2 steps
    assert callable(instantiate(cfg.optim))  # the config itself is a partial a user can call


def test_default_optimizer_is_fused_adamw_on_cpu(tmp_path: Path) -> None:
    cfg = compose_config([], output_dir=tmp_path)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=40, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                         num_attention_heads=2, num_key_value_heads=2))
    module = GazeLM(Backbone(model, _Tok(), "causal", "tiny"), CrossEntropy(), optim=cfg.optim, scheduler=cfg.scheduler)
    optimizer, _ = _optimizers(module)
    assert isinstance(optimizer, torch.optim.AdamW) and optimizer.defaults["fused"] is True
    assert optimizer.defaults["lr"] == pytest.approx(3e-3)

"""Shared pieces for objective tests: one module stand-in, a tiny model, a random batch, and
the gradient of one optimizer step (micro-batches stamped as the training loader stamps them)."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, Sequence

import torch
from hydra.utils import instantiate

from gazelm.config import conf_dir
from gazelm.data.collate import AccumulationWindows
from gazelm.models.backbones import Backbone
from gazelm.models.module import GazeLM
from gazelm.objectives.base import Objective


def fake_module(objective: Objective | None = None, *, causal: bool = True, model: Any = None, tokenizer: Any = None,
                step: int = 0, accumulate: int = 1) -> SimpleNamespace:
    """A :class:`GazeLM` stand-in with the real ``items_normalizer`` (stamped step totals, all-reduced
    under DDP, or this batch's ``objective.window_counts``) and the model as a :class:`Backbone`
    (a namespace without a model)."""
    backbone = (Backbone(model, tokenizer, "causal" if causal else "seq2seq", "test") if model is not None else
                SimpleNamespace(is_causal=causal, model=model, tokenizer=tokenizer, has_lora=False))
    fake = SimpleNamespace(objective=objective, training=True, device=torch.device("cpu"), global_step=step,
                           backbone=backbone)
    fake._trainer = fake.trainer = SimpleNamespace(accumulate_grad_batches=accumulate)
    fake.items_normalizer = lambda batch, key: GazeLM.items_normalizer(fake, batch, key)
    return fake


def tiny_llama(vocab: int = 50, seed: int = 0, dtype: torch.dtype = torch.float64):
    """A 1-layer Llama with eager attention (attention weights available)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=vocab, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=32,
                         attn_implementation="eager")
    return LlamaForCausalLM(config).to(dtype)


def random_batch(b: int, t: int, causal: bool = True, seed: int = 0, vocab: int = 50) -> dict[str, torch.Tensor]:
    """Every key a training batch can carry, with very different lengths and weights per row."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(t // 2, t + 1, (b,), generator=g)
    mask = (torch.arange(t)[None] < lengths[:, None]).long()
    ids = torch.randint(3, vocab, (b, t), generator=g) * mask
    prompt = torch.randint(2, t // 2, (b,), generator=g)
    pos = torch.arange(t)[None]
    labels = ids.masked_fill((pos < prompt[:, None]) | (mask == 0), -100) if causal else ids.masked_fill(mask == 0, -100)
    code = (pos >= 1) & (pos < prompt[:, None]) & (mask == 1)
    weights = torch.where(code | (labels != -100), 1 + 4 * torch.rand(b, t, generator=g), torch.ones(b, t))
    slots = 4  # FixATE's keys: users, slots over the code, a dwell target, options and the answer row
    gaze = torch.rand(b, slots, generator=g)
    return {
        "input_ids": ids, "attention_mask": mask, "labels": labels,
        "label_weights": weights, "input_weights": weights, "code_token_mask": code,
        "gaze_mask": code & (torch.rand(b, t, generator=g) < 0.5), "source_mask": code,
        "example_index": torch.arange(b), "user_index": torch.arange(b) % 3,
        "slot_index": torch.where(code, pos % slots, torch.full_like(pos, -1)).expand(b, t).clone(),
        "gaze_target": gaze / gaze.sum(1, keepdim=True), "slot_mask": torch.ones(b, slots, dtype=torch.bool),
        "answer_position": (lengths - 2).clamp(min=0), "option_ids": torch.tensor([[3, 4, 5]] * b),
        "choice_index": torch.randint(-1, 3, (b,), generator=g), "correct_index": torch.zeros(b, dtype=torch.long),
        "adapt_only": torch.zeros(b, dtype=torch.bool),
    }


def rows(batch: dict[str, torch.Tensor], index: slice | Sequence[int]) -> dict[str, torch.Tensor]:
    return {k: v[index] for k, v in batch.items()}


def shipped_objectives(task: str = "translation") -> dict[str, Objective]:
    """Every ``conf/objective/*.yaml``, built as ``gazelm train objective=<name> task=<task>`` builds it
    (composed: an objective's options may read the task, e.g. eyemulator's ``scope: auto``)."""
    from tests.helpers.compose import compose_config

    return {p.stem: instantiate(compose_config([f"objective={p.stem}", f"task={task}"]).objective)
            for p in sorted(Path(conf_dir(), "objective").glob("*.yaml"))}


def step_gradients(objective: Objective, model: torch.nn.Module, micro_batches: list[dict[str, torch.Tensor]],
                   accumulate: int, step: int = 10_000) -> torch.Tensor:
    """The gradient Lightning's automatic optimisation accumulates over ``micro_batches``: each
    micro-batch's loss / ``accumulate``, backward, summed (micro-batches stamped with the step's
    ``objective.window_counts`` totals, as the training loader stamps them)."""
    module = fake_module(objective, causal=True, model=model, step=step, accumulate=accumulate)
    objective.setup(module)
    objective.attach_data(SimpleNamespace(users=["u0", "u1", "u2"]))
    params = [*model.parameters(), *(p for m in objective.modules().values() for p in m.parameters())]
    for p in params:
        p.grad = None
    for batch in AccumulationWindows([dict(b) for b in micro_batches], accumulate, objective.window_counts):
        outputs = objective.forward(batch, module)
        loss, _ = objective.loss(batch, outputs, module)
        (loss / accumulate).backward()
    return torch.cat([p.grad.flatten() for p in params if p.grad is not None])


def loss_and_gradients(backbone, objective, batch: dict, device: torch.device, precision: str,
                       parameters) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """One training forward + backward of ``objective`` through ``backbone`` on ``batch`` (bf16
    autocast when ``precision == "bf16-mixed"``): the loss and the gradients of ``parameters``, in fp32."""
    module = fake_module(objective)
    module.backbone, module.device = backbone, device
    backbone.zero_grad()
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16-mixed"):
        outputs = backbone(batch, labels=objective.scored_labels(batch))
        loss = objective.loss(batch, outputs, module)[0]
    loss.backward()
    return loss.detach().float(), [p.grad.float().clone() for p in parameters]


def assert_same_step(got: tuple, want: tuple, precision: str, fp32: tuple[float, float, float, float],
                     bf16: tuple[float, float, float]) -> None:
    """``(loss, gradients)`` of two ways of computing one step agree: in fp32 loss and every gradient
    to ``fp32 = (loss rtol, loss atol, grad rtol, grad atol)``; under bf16 autocast the loss to
    ``bf16[:2]`` and the gradients as a whole to a relative error below ``bf16[2]``."""
    (loss_g, grads_g), (loss_w, grads_w) = got, want
    if precision == "fp32":
        torch.testing.assert_close(loss_g, loss_w, rtol=fp32[0], atol=fp32[1])
        for g, w in zip(grads_g, grads_w, strict=True):
            torch.testing.assert_close(g, w, rtol=fp32[2], atol=fp32[3])
        return
    torch.testing.assert_close(loss_g, loss_w, rtol=bf16[0], atol=bf16[1])
    flat_g, flat_w = (torch.cat([t.float().flatten() for t in ts]) for ts in (grads_g, grads_w))
    assert float((flat_g - flat_w).norm() / flat_w.norm()) < bf16[2]

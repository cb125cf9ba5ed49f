"""Optimizer and schedule from config, parameter groups, per-group gradient clipping.

``conf/optim/*.yaml`` is a Hydra partial of the optimizer (``_target_: torch.optim.AdamW``,
``_partial_: true``) and ``conf/scheduler/*.yaml`` one of the schedule
(``_target_: gazelm.models.optim.warmup_schedule``), so either is swapped in YAML. The
LightningModule builds the parameter groups:

* the objective's own groups first (:meth:`gazelm.objectives.base.Objective.parameter_groups`,
  e.g. FixATE's soft-prompt basis and per-user logits with their own ``lr``, ``weight_decay`` and
  ``max_grad_norm``);
* every other trainable parameter: weight decay for matrices, none for vectors and scalars
  (``p.ndim < 2``: biases and every norm's weight, whatever the architecture names them —
  GPT-BigCode's ``ln_1``/``ln_2``/``ln_f`` included).

A group's ``max_grad_norm`` clips that group's gradient norm on its own; groups without one are
clipped together by the Trainer's ``gradient_clip_val``.
"""
from __future__ import annotations

import inspect
from functools import partial
from typing import Any, Callable, Iterable, Sequence

import torch
from torch import nn
from transformers import get_scheduler

GROUP_KEYS = ("max_grad_norm", "name")  # keys gazelm reads from a group; the optimizer keeps them


def warmup_schedule(optimizer: torch.optim.Optimizer, total_steps: int, name: str = "cosine",
                    warmup_steps: int | None = None, warmup_ratio: float = 0.0, **options: Any):
    """Hugging Face's schedule ``name`` (cosine, linear, constant, constant_with_warmup, …) with
    linear warm-up over ``warmup_steps`` (or ``warmup_ratio`` of ``total_steps``)."""
    warmup = int(warmup_steps) if warmup_steps is not None else int(float(warmup_ratio) * total_steps)
    return get_scheduler(name, optimizer, num_warmup_steps=warmup, num_training_steps=max(int(total_steps), 1),
                         scheduler_specific_kwargs=options or None)


def decay_groups(named: Iterable[tuple[str, nn.Parameter]], weight_decay: float | None) -> list[dict[str, Any]]:
    """Matrices (``ndim ≥ 2``) with ``weight_decay`` (the optimizer's default when None), the rest without."""
    decay, no_decay = [], []
    for _, p in named:
        (decay if p.ndim >= 2 else no_decay).append(p)
    groups = []
    if decay:
        groups.append({"name": "decay", "params": decay, **({} if weight_decay is None else {"weight_decay": weight_decay})})
    if no_decay:
        groups.append({"name": "no_decay", "params": no_decay, "weight_decay": 0.0})
    return groups


def parameter_groups(named: Iterable[tuple[str, nn.Parameter]], own_groups: Sequence[dict[str, Any]],
                     weight_decay: float | None) -> list[dict[str, Any]]:
    """``own_groups`` (an objective's) + decay/no-decay groups of the remaining trainable parameters."""
    claimed = {id(p) for g in own_groups for p in g["params"]}
    rest = [(n, p) for n, p in named if p.requires_grad and id(p) not in claimed]
    groups = [dict(g, params=list(g["params"])) for g in own_groups if list(g["params"])]
    return groups + decay_groups(rest, weight_decay)


def _target(factory: Callable) -> Callable:
    return factory.func if isinstance(factory, partial) else factory


def build_optimizer(factory: Callable[..., torch.optim.Optimizer], groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
    """``factory(groups)``; a ``fused`` option left unset (None) becomes True where every parameter
    is a floating tensor on CPU or CUDA (torch's fused AdamW kernel is several times faster)."""
    kwargs = {}
    try:
        accepts_fused = "fused" in inspect.signature(_target(factory)).parameters
    except (TypeError, ValueError):
        accepts_fused = False
    preset = factory.keywords.get("fused") if isinstance(factory, partial) else None
    if accepts_fused and preset is None:
        params = [p for g in groups for p in g["params"]]
        kwargs["fused"] = bool(params) and all(p.device.type in ("cpu", "cuda") and p.is_floating_point()
                                               for p in params)
    return factory(groups, **kwargs)


def clip_group_gradients(optimizer: torch.optim.Optimizer, default_max_norm: float | None,
                         algorithm: str | None = "norm") -> dict[str, torch.Tensor]:
    """Clip each group with ``max_grad_norm`` on its own; the others together with ``default_max_norm``
    (``algorithm`` ``value`` clips those by value). Returns the pre-clipping norms by group name."""
    norms: dict[str, torch.Tensor] = {}
    shared: list[torch.Tensor] = []
    for i, group in enumerate(optimizer.param_groups):
        params = [p for p in group["params"] if p.grad is not None]
        limit = group.get("max_grad_norm")
        if limit is None:
            shared += params
        elif params:
            norms[str(group.get("name", i))] = torch.nn.utils.clip_grad_norm_(params, float(limit))
    if shared and default_max_norm:
        if algorithm == "value":
            torch.nn.utils.clip_grad_value_(shared, float(default_max_norm))
        else:
            norms["default"] = torch.nn.utils.clip_grad_norm_(shared, float(default_max_norm))
    return norms

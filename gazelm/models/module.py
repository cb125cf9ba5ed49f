"""The one LightningModule: a backbone and an objective.

``training_step`` runs the backbone and asks the objective for the loss; validation
always logs the plain token cross-entropy (``val/loss``) so runs with different
objectives compare on one scale. No subclass per method.
"""
from __future__ import annotations

from typing import Any, Mapping

import lightning as L
import torch
import torch.distributed as dist
from omegaconf import DictConfig, OmegaConf
from torch import nn

from gazelm.checkpoints import load_rng_states, save_rng_states
from gazelm.distributed import process_group_ready
from gazelm.models.backbones import Backbone
from gazelm.models.fsdp import root_params_gathered
from gazelm.models.optim import build_optimizer, clip_group_gradients, parameter_groups
from gazelm.objectives.base import Objective


def _plain(node: Any) -> dict[str, Any]:
    return OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else dict(node or {})


DEFAULT_OPTIM = {"_target_": "torch.optim.AdamW", "_partial_": True, "lr": 5e-4, "weight_decay": 0.01}
DEFAULT_SCHEDULER = {"_target_": "gazelm.models.optim.warmup_schedule", "_partial_": True, "name": "cosine",
                     "warmup_ratio": 0.0}


class GazeLM(L.LightningModule):
    """``optim``: a Hydra partial of the optimizer (``conf/optim``); ``scheduler``: one of the schedule,
    called with ``(optimizer, total_steps=…)`` (``conf/scheduler``). The objective may own modules
    and parameter groups (:class:`~gazelm.objectives.base.Objective`)."""

    def __init__(self, backbone: Backbone, objective: Objective, optim: Mapping[str, Any] | None = None,
                 scheduler: Mapping[str, Any] | None = None):
        super().__init__()
        optim, scheduler = _plain(optim) or dict(DEFAULT_OPTIM), _plain(scheduler) or dict(DEFAULT_SCHEDULER)
        self.save_hyperparameters({"optim": optim, "scheduler": scheduler, "objective": type(objective).__name__,
                                   "backbone": backbone.identity})
        self.backbone, self.objective, self.optim, self.scheduler_config = backbone, objective, optim, scheduler
        objective.setup(self)
        self.objective_modules = nn.ModuleDict(objective.modules())

    def setup(self, stage: str) -> None:
        datamodule = getattr(self._trainer, "datamodule", None) if self._trainer is not None else None
        if datamodule is not None:
            self.objective.attach_data(datamodule)

    # -- loss -------------------------------------------------------------------------
    def forward(self, batch: Mapping[str, torch.Tensor]) -> Any:
        return self.objective.forward(batch, self)

    def items_normalizer(self, batch: Mapping[str, torch.Tensor], key: str) -> torch.Tensor:
        """What a summed micro-batch loss is divided by (see ``gazelm.objectives.base``)."""
        window = batch.get(f"window_{key}")
        if window is None or not self.training:
            counts = self.objective.window_counts(dict(batch))
            if key not in counts:
                raise KeyError(f"{type(self.objective).__name__}.window_counts() has no {key!r} (it has "
                               f"{', '.join(counts)}): return every count the loss divides by")
            return counts[key].float().clamp(min=1e-8)
        total = window.detach().float().clone().to(self.device)
        world = 1
        if process_group_ready():
            dist.all_reduce(total)
            world = dist.get_world_size()
        accumulate = self.trainer.accumulate_grad_batches if self._trainer is not None else 1
        return (total / (accumulate * world)).clamp(min=1e-8)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        outputs = self(batch)
        loss, logs = self.objective.loss(batch, outputs, self)
        if self._logs_this_step():
            size = int(batch["example_index"].shape[0])  # examples, also when packed into fewer rows
            self.log("train/loss", loss, prog_bar=True, batch_size=size)
            for name, value in logs.items():
                self.log(f"train/{name}", value, batch_size=size)
        return loss

    def _logs_this_step(self) -> bool:
        """Lightning writes step metrics every ``trainer.log_every_n_steps`` optimizer steps (after
        the step, while ``global_step + 1`` is still the step's number); logging on those steps only
        spares the others ``self.log``'s work and the progress bar's tensor → number syncs."""
        trainer = self._trainer
        if trainer is None or trainer.fast_dev_run:
            return True
        every = trainer.log_every_n_steps
        return every > 0 and (trainer.global_step + 1) % every == 0

    def _eval_step(self, batch: dict[str, torch.Tensor], prefix: str) -> None:
        total, count = self.objective.eval_loss(batch, self)
        n = int(count)
        self.log(f"{prefix}/loss", total / max(n, 1), batch_size=max(n, 1), sync_dist=True, prog_bar=True)

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._eval_step(batch, "val")

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._eval_step(batch, "test")

    # -- generation -------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, **kwargs: Any) -> list[str]:
        """Decode new text for a (left-padded, for causal models) prompt batch; with
        ``num_return_sequences=n`` the n samples of each prompt follow each other."""
        tok = self.backbone.tokenizer
        with root_params_gathered(self):  # FSDP: the root unit's embeddings and head, whole
            out = self.backbone.model.generate(input_ids=input_ids.to(self.device),
                                               attention_mask=attention_mask.to(self.device),
                                               pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, **kwargs)
        if self.backbone.is_causal:
            out = out[:, input_ids.shape[1]:]
        # leading whitespace is part of the text (a Python body's indentation); trailing is not
        return [t.rstrip() for t in tok.batch_decode(out, skip_special_tokens=True)]

    # -- checkpoints --------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Keep every rank's RNG states, so a resumed run draws the same dropout masks."""
        save_rng_states(checkpoint)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        load_rng_states(checkpoint, self.global_rank)

    # -- optimisation -----------------------------------------------------------------
    def configure_optimizers(self) -> Any:
        from hydra.utils import instantiate

        optim = dict(self.optim)
        factory = instantiate({**optim, "_partial_": True})
        groups = parameter_groups(self.named_parameters(), self.objective.parameter_groups(), optim.get("weight_decay"))
        optimizer = build_optimizer(factory, groups)
        total = int(self.trainer.estimated_stepping_batches)
        schedule = instantiate({**self.scheduler_config, "_partial_": True})
        scheduler = schedule(optimizer, total_steps=total)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    def configure_gradient_clipping(self, optimizer: torch.optim.Optimizer, gradient_clip_val: float | None = None,
                                    gradient_clip_algorithm: str | None = None) -> None:
        """Groups with ``max_grad_norm`` are clipped on their own, the rest by ``gradient_clip_val``.

        Under ``bf16-mixed`` gazelm clips itself too: Lightning's mixed-precision plugin refuses any
        clipping when the optimizer unscales gradients itself (torch's fused AdamW, gazelm's default),
        although without a gradient scaler (bf16) there is nothing to unscale."""
        own = any(g.get("max_grad_norm") is not None for g in optimizer.param_groups)
        if not own and not _unscaled_mixed_precision(self.trainer):
            return super().configure_gradient_clipping(optimizer, gradient_clip_val, gradient_clip_algorithm)
        norms = clip_group_gradients(optimizer, gradient_clip_val, gradient_clip_algorithm)
        for name, value in norms.items() if own else ():
            self.log(f"train/grad_norm/{name}", value, on_step=True, on_epoch=False)


def _unscaled_mixed_precision(trainer: Any) -> bool:
    """Lightning's autocast precision (``bf16-mixed``) without a gradient scaler."""
    from lightning.pytorch.plugins.precision import MixedPrecision

    plugin = trainer.precision_plugin
    return isinstance(plugin, MixedPrecision) and plugin.scaler is None

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
from transformers import get_scheduler

from gazelm.checkpoints import load_rng_states, save_rng_states
from gazelm.distributed import process_group_ready
from gazelm.models.backbones import Backbone
from gazelm.models.fsdp import root_params_gathered
from gazelm.objectives.base import Objective
from gazelm.objectives.tokens import output_log_probs

NO_DECAY = ("bias", "LayerNorm.weight", "layer_norm.weight", "norm.weight")


class GazeLM(L.LightningModule):
    """``optim``: ``lr, weight_decay, betas, eps, scheduler (cosine|linear|constant_with_warmup…),
    warmup_steps | warmup_ratio``."""

    def __init__(self, backbone: Backbone, objective: Objective, optim: Mapping[str, Any] | None = None):
        super().__init__()
        optim = OmegaConf.to_container(optim, resolve=True) if isinstance(optim, DictConfig) else dict(optim or {})
        self.save_hyperparameters({"optim": optim, "objective": type(objective).__name__, "backbone": backbone.identity})
        self.backbone, self.objective, self.optim = backbone, objective, optim
        objective.setup(self)

    # -- loss -------------------------------------------------------------------------
    def forward(self, batch: Mapping[str, torch.Tensor]) -> Any:
        return self.backbone(batch, output_attentions="attentions" in self.objective.needs,
                             labels=self.objective.scored_labels(batch))

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
        outputs = self.backbone(batch, labels=batch["labels"])
        logp, mask = output_log_probs(outputs, batch["labels"], self.backbone.is_causal)
        n = int(mask.sum())
        self.log(f"{prefix}/loss", -logp.sum() / max(n, 1), batch_size=max(n, 1), sync_dist=True, prog_bar=True)

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
        o = self.optim
        params = [(n, p) for n, p in self.named_parameters() if p.requires_grad]
        groups = [
            {"params": [p for n, p in params if not any(k in n for k in NO_DECAY)], "weight_decay": o.get("weight_decay", 0.01)},
            {"params": [p for n, p in params if any(k in n for k in NO_DECAY)], "weight_decay": 0.0},
        ]
        fused = o.get("fused")
        if fused is None:  # the fused kernel (CPU and CUDA) is several times faster than the per-tensor loop
            fused = all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for _, p in params)
        optimizer = torch.optim.AdamW(groups, lr=o.get("lr", 5e-4), betas=tuple(o.get("betas", (0.9, 0.999))),
                                      eps=o.get("eps", 1e-8), fused=bool(fused))
        total = int(self.trainer.estimated_stepping_batches)
        warmup = o.get("warmup_steps")
        if warmup is None:
            warmup = int(o.get("warmup_ratio", 0.0) * total)
        scheduler = get_scheduler(o.get("scheduler", "cosine"), optimizer, num_warmup_steps=warmup,
                                  num_training_steps=max(total, 1))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

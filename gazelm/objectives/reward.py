"""Reward-guided SFT from programmer attention: ``L = L_SFT + λ(t) · L_reward``.

The paper on programmer-attention reward-guided fine-tuning does not publish its loss;
this is gazelm's documented reading of it:

- ``L_SFT`` is the token cross-entropy (any objective, default :class:`CrossEntropy`);
- ``L_reward`` is one of the rewards of :mod:`gazelm.objectives.rewards`
  (``attention_motif``, ``codebleu``, ``bleu``), chosen by name, with its options from
  ``reward_options[name]``;
- ``λ(t) = lam · clip((t − delay_steps) / warmup_steps, 0, 1)`` on the optimizer step ``t``
  (``module.global_step``): zero during ``delay_steps``, a linear warm-up over
  ``warmup_steps`` (0 = no warm-up), then ``lam``. While ``λ(t) = 0`` the reward is not
  computed (no sampling cost during the delay).
"""
from __future__ import annotations

from typing import Any, Mapping

import torch

from gazelm.objectives.base import Counts, Logs, Objective
from gazelm.objectives.ce import CrossEntropy
from gazelm.objectives.rewards import REWARDS


def warmup_lambda(step: int, lam: float, warmup_steps: int = 0, delay_steps: int = 0) -> float:
    """``lam · clip((step − delay_steps) / warmup_steps, 0, 1)``; step-function at the delay if no warm-up."""
    t = step - delay_steps
    if t < 0:
        return 0.0
    if warmup_steps <= 0:
        return float(lam)
    return float(lam) * min(1.0, t / warmup_steps)


class RewardSFT(Objective):
    """``L = L_SFT + λ(t) · L_reward`` (see the module docstring)."""

    def __init__(self, reward: str | Any = "attention_motif", lam: float = 0.1, warmup_steps: int = 0,
                 delay_steps: int = 0, reward_options: Mapping[str, Mapping[str, Any]] | None = None,
                 sft: Objective | None = None):
        if lam < 0 or warmup_steps < 0 or delay_steps < 0:
            raise ValueError("reward_sft: lam, warmup_steps and delay_steps must be >= 0")
        if isinstance(reward, str):
            options = dict((reward_options or {}).get(reward) or {})
            reward = REWARDS.get(reward)(**options)
        self.reward, self.lam, self.warmup_steps, self.delay_steps = reward, lam, warmup_steps, delay_steps
        self.sft = sft if sft is not None else CrossEntropy()

    @property
    def needs(self) -> frozenset[str]:  # type: ignore[override]
        return frozenset(self.sft.needs) | frozenset(self.reward.needs)

    def window_counts(self, batch: dict[str, torch.Tensor]) -> Counts:
        return {**self.sft.window_counts(batch), **self.reward.window_counts(batch)}

    @property
    def uses_gaze(self) -> bool:
        return self.sft.uses_gaze or bool(getattr(self.reward, "uses_gaze", False))

    @property
    def needs_causal_model(self) -> bool:
        return self.sft.needs_causal_model

    def gaze_problem(self, batches) -> str | None:
        """A problem only when no part that reads gaze (reward, SFT term) gets any gaze information."""
        parts = [p for p in (self.sft, self.reward) if getattr(p, "uses_gaze", False)]
        problems = [p.gaze_problem(batches) for p in parts]
        return "; ".join(problems) if problems and all(problems) else None

    def setup(self, module: Any) -> None:
        self.sft.setup(module)

    def lambda_at(self, step: int) -> float:
        return warmup_lambda(step, self.lam, self.warmup_steps, self.delay_steps)

    def loss(self, batch: dict[str, torch.Tensor], outputs: Any, module: Any) -> tuple[torch.Tensor, Logs]:
        sft_loss, logs = self.sft.loss(batch, outputs, module)
        lam = self.lambda_at(int(module.global_step))
        logs = {**logs, "lambda": torch.tensor(lam)}
        if lam == 0.0:
            return sft_loss, logs
        reward_loss, reward_logs = self.reward.loss(batch, outputs, module)
        logs.update(reward_logs)
        logs["reward_loss"] = reward_loss.detach()
        return sft_loss + lam * reward_loss, logs

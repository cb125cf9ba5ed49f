"""Rewards for reward-guided SFT (:class:`gazelm.objectives.reward.RewardSFT`).

A reward is an :class:`~gazelm.objectives.base.Objective` (``needs``, ``window_counts``,
``loss(batch, outputs, module) -> (L_reward, logs)``), registered by name in :data:`REWARDS`;
both rewards here are means over the step's examples (``window_counts``: ``n_examples``):

- ``attention_motif``: differentiable agreement between the model's attention over the
  source and the human target (:mod:`gazelm.objectives.attention_alignment`);
  ``L_reward`` = mean over examples of ``KL(target ‖ model)`` or ``1 − cos``.
- ``codebleu`` / ``bleu``: self-critical sequence training (Rennie et al., CVPR 2017):
  sample ``y^s`` from the model and decode the greedy ``ŷ`` as baseline,
  ``L_reward = −(1/B) Σ_b (r(y^s_b) − r(ŷ_b)) · Σ_t log π(y^s_{b,t} | ·)``, with ``r`` the
  per-example metric of :mod:`gazelm.metrics` (``codebleu``; ``bleu`` is sacrebleu sentence
  BLEU, registry name ``bleu_sacre``), rescaled to [0, 1]. The sampler is injectable.
"""
from __future__ import annotations

import contextlib
from functools import partial
from typing import Any, Callable, Iterator, Sequence

import torch

from gazelm.objectives.attention_alignment import (
    DIVERGENCES,
    TARGETS,
    attention_divergence,
    attention_over_keys,
    causal_query_mask,
    human_target,
    pool_heads_layers,
)
from gazelm.objectives.base import Counts, Logs, Objective, example_count
from gazelm.objectives.tokens import IGNORE_INDEX, token_log_probs
from gazelm.registry import Registry

REWARDS: Registry[Callable[..., Any]] = Registry("reward")
Sampler = Callable[[Any, dict, bool], torch.Tensor]


class ExampleMeanReward(Objective):
    """A reward averaged over the optimizer step's examples."""

    def window_counts(self, batch: dict[str, torch.Tensor]) -> Counts:
        return {"n_examples": example_count(batch)}


@REWARDS.register("attention_motif")
class AttentionMotifReward(ExampleMeanReward):
    """Model attention over the source vs the human target (augmented scanpath / measured attention).

    ``layers`` / ``heads``: indices to average (None = all; negative layers count from the
    end); ``divergence``: ``kl`` (KL(target ‖ model)) or ``cosine`` (1 − cos);
    ``target``: ``auto`` | ``human_attention`` | ``gaze_mask``
    (see :func:`~gazelm.objectives.attention_alignment.human_target`). Encoder-decoder models
    use cross-attention from the labelled decoder positions; causal models self-attention
    from the rows that predict the target.
    """

    needs = frozenset({"attentions"})
    uses_gaze = True

    def __init__(self, layers: Sequence[int] | None = None, heads: Sequence[int] | None = None,
                 divergence: str = "kl", target: str = "auto", eps: float = 1e-8):
        if divergence not in DIVERGENCES:
            raise ValueError(f"unknown divergence {divergence!r}; expected one of {', '.join(DIVERGENCES)}")
        if target not in TARGETS:
            raise ValueError(f"unknown attention target {target!r}; expected one of {', '.join(TARGETS)}")
        self.layers = list(layers) if layers is not None else None
        self.heads = list(heads) if heads is not None else None
        self.divergence, self.target, self.eps = divergence, target, eps

    def gaze_problem(self, batches) -> str | None:
        """No example with a human target (measured attention or scanpath) over its source."""
        for batch in batches:
            if bool(human_target(batch, batch["source_mask"].bool() & batch["attention_mask"].bool(),
                                 self.target)[1].any()):
                return None
        return (f"reward_sft attention_motif (target={self.target}): no example has a human attention target "
                "(neither measured attention nor a scanpath), so the reward is 0; use a gaze provider "
                "(gaze=eyemulator_priors, or gaze=eyelink_python for measured attention)")

    def per_example(self, batch: dict[str, torch.Tensor], outputs: Any, causal: bool
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Divergence per example and which examples have both a model and a human distribution."""
        labels = batch["labels"]
        if causal:
            attn, queries = getattr(outputs, "attentions", None), causal_query_mask(labels)
        else:
            attn, queries = getattr(outputs, "cross_attentions", None), labels != IGNORE_INDEX
        pooled = pool_heads_layers(attn, self.layers, self.heads)
        keys = batch["source_mask"].bool() & batch["attention_mask"].bool()
        model, has_model = attention_over_keys(pooled, queries, keys)
        human, has_human = human_target(batch, keys, self.target)
        valid = has_model & has_human
        div = attention_divergence(human, model, self.divergence, self.eps)
        return torch.where(valid, div, torch.zeros_like(div)), valid

    def loss(self, batch: dict[str, torch.Tensor], outputs: Any, module: Any) -> tuple[torch.Tensor, Logs]:
        div, valid = self.per_example(batch, outputs, module.backbone.is_causal)
        total = div.sum()
        loss = total / module.items_normalizer(batch, "n_examples")
        return loss, {f"attention_{self.divergence}": (total / valid.sum().clamp(min=1)).detach(),
                      "attention_valid": valid.float().mean().detach()}


# ------------------------------------------------------------------ sequence rewards (self-critical)

@contextlib.contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[None]:
    """Temporarily put every submodule in eval mode; restore each one's own flag afterwards."""
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, flag in flags:
            m.training = flag


def prompt_batch(batch: dict[str, torch.Tensor], causal: bool, pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """What a model generates from: the encoder input, or for causal models the prompt
    (attended positions before the first label), left-padded."""
    ids, mask = batch["input_ids"], batch["attention_mask"].bool()
    if not causal:
        return ids, mask.long()
    in_prompt = mask & (batch["labels"] == IGNORE_INDEX) & (torch.cumsum(batch["labels"] != IGNORE_INDEX, 1) == 0)
    rows = [ids[b][in_prompt[b]] for b in range(ids.shape[0])]
    width = max(int(r.numel()) for r in rows)
    out = ids.new_full((len(rows), width), pad_id)
    att = torch.zeros_like(out)
    for b, r in enumerate(rows):
        out[b, width - r.numel():] = r
        att[b, width - r.numel():] = 1
    return out, att


def before_eos(seqs: torch.Tensor, eos_id: int | None) -> torch.Tensor:
    """Positions up to and including the first EOS of each generated continuation."""
    if eos_id is None:
        return torch.ones_like(seqs, dtype=torch.bool)
    is_eos = (seqs == eos_id).long()
    return (torch.cumsum(is_eos, 1) - is_eos) == 0


class GenerateSampler:
    """Default sampler: ``model.generate`` (multinomial or greedy), continuation ids only."""

    def __init__(self, max_new_tokens: int = 64, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0):
        self.max_new_tokens, self.temperature, self.top_k, self.top_p = max_new_tokens, temperature, top_k, top_p

    @torch.no_grad()
    def __call__(self, module: Any, batch: dict[str, torch.Tensor], greedy: bool) -> torch.Tensor:
        backbone = module.backbone
        tok, causal = backbone.tokenizer, backbone.is_causal
        ids, mask = prompt_batch(batch, causal, tok.pad_token_id)
        options: dict[str, Any] = {"do_sample": False} if greedy else {
            "do_sample": True, "temperature": self.temperature, "top_k": self.top_k, "top_p": self.top_p}
        with eval_mode(backbone.model):
            out = backbone.model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=self.max_new_tokens,
                                          pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, **options)
        return out[:, ids.shape[1]:] if causal else out[:, 1:]  # drop the prompt / decoder start token


def continuation_log_probs(module: Any, batch: dict[str, torch.Tensor], seqs: torch.Tensor
                           ) -> tuple[torch.Tensor, torch.Tensor]:
    """Teacher-forced ``log π(y_t | x, y_<t)`` of generated continuations ``seqs`` [B, L]
    (with gradient) and the mask of their positions up to the first EOS."""
    backbone = module.backbone
    tok, causal, model = backbone.tokenizer, backbone.is_causal, backbone.model
    keep = before_eos(seqs, tok.eos_token_id)
    targets = seqs.masked_fill(~keep, IGNORE_INDEX)
    if not causal:
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=targets,
                    use_cache=False)
        return token_log_probs(out.logits, targets, causal=False)
    ids, mask = prompt_batch(batch, True, tok.pad_token_id)
    full_ids = torch.cat([ids, seqs.masked_fill(~keep, tok.pad_token_id)], 1)
    full_mask = torch.cat([mask, keep.long()], 1)
    labels = torch.cat([torch.full_like(ids, IGNORE_INDEX), targets], 1)
    positions = (full_mask.cumsum(-1) - 1).clamp(min=0)
    out = model(input_ids=full_ids, attention_mask=full_mask, position_ids=positions, use_cache=False)
    logp, valid = token_log_probs(out.logits, labels, causal=True)
    return logp[:, ids.shape[1] - 1:], valid[:, ids.shape[1] - 1:]


def decode(tokenizer: Any, seqs: torch.Tensor, keep: torch.Tensor | None = None) -> list[str]:
    """Text of each row (positions where ``keep``), special tokens skipped, stripped."""
    rows = [row[k].tolist() if keep is not None else row.tolist()
            for row, k in zip(seqs, keep if keep is not None else seqs)]
    return [t.strip() for t in tokenizer.batch_decode(rows, skip_special_tokens=True)]


def sequence_scores(metric: str, predictions: list[str], references: list[str], lang: str = "java") -> torch.Tensor:
    """Per-example ``metric`` from :mod:`gazelm.metrics`, rescaled to [0, 1]."""
    from gazelm.metrics import compute, metric_scale

    result = compute([metric], predictions, references, lang=lang, n_jobs=1)[metric]
    if result.per_example is None:
        raise ValueError(f"metric {metric!r} has no per-example scores; it cannot be a sequence reward")
    return torch.tensor(result.per_example, dtype=torch.float32) / metric_scale(metric)


class SelfCriticalReward(ExampleMeanReward):
    """Self-critical policy gradient with a sequence metric (see the module docstring).

    ``sampler(module, batch, greedy) -> LongTensor [B, L]`` returns generated continuation
    ids (no prompt, no decoder start token); the default is :class:`GenerateSampler`.
    """

    def __init__(self, metric: str = "codebleu", lang: str = "java", sampler: Sampler | None = None,
                 max_new_tokens: int = 64, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0):
        self.metric, self.lang = metric, lang
        self.sampler = sampler or GenerateSampler(max_new_tokens, temperature, top_k, top_p)

    def loss(self, batch: dict[str, torch.Tensor], outputs: Any, module: Any) -> tuple[torch.Tensor, Logs]:
        tok = module.backbone.tokenizer
        labels = batch["labels"]
        references = decode(tok, labels.clamp(min=0), labels != IGNORE_INDEX)
        sampled = self.sampler(module, batch, False)
        greedy = self.sampler(module, batch, True)
        r_sample = sequence_scores(self.metric, decode(tok, sampled, before_eos(sampled, tok.eos_token_id)),
                                   references, self.lang)
        r_greedy = sequence_scores(self.metric, decode(tok, greedy, before_eos(greedy, tok.eos_token_id)),
                                   references, self.lang)
        advantage = (r_sample - r_greedy).to(labels.device)
        logp, _ = continuation_log_probs(module, batch, sampled)
        total = -(advantage[:, None] * logp).sum()
        loss = total / module.items_normalizer(batch, "n_examples")
        return loss, {"reward_sample": r_sample.mean(), "reward_greedy": r_greedy.mean(),
                      "advantage": advantage.mean().detach()}


REWARDS.register("codebleu")(partial(SelfCriticalReward, metric="codebleu"))
REWARDS.register("bleu")(partial(SelfCriticalReward, metric="bleu_sacre"))

"""FixATE: personal soft prompts that steer a frozen model's relevance toward a person's fixations.

"Through Their Eyes: Fixation-aligned Tuning for Personalized User Emulation" (FixATE), as its
released code (``train_fixate_recgaze.py``, ``config/recgaze_config.py``) computes it:

* the backbone is frozen (every parameter ``requires_grad=False``, eval mode); only the soft-prompt
  basis ``B`` and the per-user logits ``z_u`` train (:class:`gazelm.models.soft_prompt.PersonalSoftPrompt`,
  prepended at the ``inputs_embeds`` level);
* relevance comes from an operator computed inside the forward (``rollout``, ``glimpse_fixate``,
  ``attnlrp_fixate``; :mod:`gazelm.attention.in_forward`) over the last ``K`` layers, for the row
  of the position that predicts the answer letter, with the participant's letter (teacher-forced)
  as the explained logit; ``∂s/∂A`` keeps its graph (``create_graph=True``) and is scaled by 0.1
  in training (FixATE's ``ATTNLRP_GRAD_SCALE``; evaluation uses 1);
* relevance magnitude is pooled to the slots (:func:`gazelm.attention.slots.slot_relevance`) → ``a``;
* ``L = w_ce · CE(answer letter) + λ(t) · L_attn + β · mean_b ‖z_{u_b}‖²`` with::

      L_attn = mean_b Σ_s ω_s g_s (log(g_s + 1e-4) − log(a_s + 1e-4)),
      ω = (g + 1e-8)^γ / Σ (g + 1e-8)^γ                                      (weighted_full_kl)

  ``plain_kl`` drops ``ω``; ``coarsened_kl`` compares the top-``k`` slots of ``g`` plus the tail
  mass, ``ω`` on those ``k + 1`` bins. ``λ(t) = 0`` for ``t < warmup`` then rises linearly to
  ``λ_target`` over ``ramp`` optimizer steps (FixATE: ramp = warmup = 30). Without the CE term
  (``ce_weight = 0``) FixATE uses ``λ_target`` from the first step, and so does gazelm.

A trial without an answer (``choice_index = -1``) has no CE term; its input carries the correct
letter after the prompt and its relevance explains that letter. Normalisation: CE by the step's label tokens (one per answered
example), the attention and regulariser terms by the step's examples, over all gradient-accumulation
micro-batches and ranks (``module.items_normalizer``), so accumulation is exact.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gazelm.attention.in_forward import check_in_forward, relevance_in_forward
from gazelm.attention.slots import slot_relevance
from gazelm.errors import GazelmInputError
from gazelm.models.soft_prompt import PersonalSoftPrompt
from gazelm.objectives.base import Logs, Objective

ATTENTION_LOSSES = ("weighted_full_kl", "plain_kl", "coarsened_kl")
PROMPTS = ("personal", "population", "none")
EPS = 1e-4          # FixATE's self.eps (log terms, slot normalisation)
POWER_EPS = 1e-8    # FixATE's POWER_EPS


# ----------------------------------------------------------------------------- pure losses
def power_weights(p: Tensor, gamma: float, eps: float = POWER_EPS, mask: Tensor | None = None) -> Tensor:
    """``(p + eps)^γ / Σ (p + eps)^γ`` over the last dimension (``mask``: real entries only)."""
    raw = (p + eps).pow(gamma)
    if mask is not None:
        raw = raw * mask.to(raw.dtype)
    return raw / raw.sum(dim=-1, keepdim=True).clamp_min(torch.finfo(raw.dtype).tiny)


def kl_terms(g: Tensor, a: Tensor, eps: float = EPS) -> Tensor:
    """``g (log(g + eps) − log(a + eps))`` elementwise."""
    return g * (torch.log(g + eps) - torch.log(a + eps))


def plain_kl(g: Tensor, a: Tensor, mask: Tensor | None = None, eps: float = EPS) -> Tensor:
    """Per example ``Σ_s g_s (log(g_s + eps) − log(a_s + eps))`` ``[B]``."""
    terms = kl_terms(g, a, eps)
    return (terms if mask is None else terms * mask.to(terms.dtype)).sum(dim=-1)


def weighted_full_kl(g: Tensor, a: Tensor, gamma: float = 2.0, mask: Tensor | None = None, eps: float = EPS,
                     power_eps: float = POWER_EPS) -> Tensor:
    """Per example ``Σ_s ω_s g_s (log(g_s + eps) − log(a_s + eps))``, ``ω = power_weights(g, γ)`` ``[B]``.

    ``γ = 0`` makes ``ω`` uniform (``1/n`` over the ``n`` real slots): plain KL divided by ``n``.
    """
    return (power_weights(g, gamma, power_eps, mask) * kl_terms(g, a, eps)).sum(dim=-1)


def tail_aggregate(dist: Tensor, index: Tensor) -> Tensor:
    """``[dist at index…, max(1 − Σ, 0)]``: the chosen bins plus the remaining mass."""
    top = dist.gather(1, index)
    return torch.cat([top, (1.0 - top.sum(dim=1, keepdim=True)).clamp(min=0.0)], dim=1)


def coarsened_kl(g: Tensor, a: Tensor, k: int = 5, gamma: float = 2.0, mask: Tensor | None = None,
                 eps: float = EPS, power_eps: float = POWER_EPS) -> Tensor:
    """Top-``k`` slots of ``g`` plus the tail, weighted KL on those ``k + 1`` bins ``[B]`` (FixATE's
    ``coarsened_kl``)."""
    gg = g if mask is None else g.masked_fill(~mask.bool(), -1.0)  # padding never in the top-k
    index = gg.topk(min(k, g.shape[1]), dim=1).indices
    p, q = tail_aggregate(g, index), tail_aggregate(a, index)
    return (power_weights(p, gamma, power_eps) * kl_terms(p, q, eps)).sum(dim=-1)


def lambda_at(step: int, target: float = 0.5, warmup_steps: int = 30, ramp_steps: int | None = None) -> float:
    """``λ(t)``: 0 before ``warmup_steps``, then ``min(target, (t − warmup) / ramp · target)``
    (FixATE: ``ramp = warmup``)."""
    ramp = warmup_steps if ramp_steps is None else ramp_steps
    if step < warmup_steps:
        return 0.0
    if ramp <= 0:
        return float(target)
    return float(min(target, (step - warmup_steps) / ramp * target))


# ----------------------------------------------------------------------------- forward outputs
@dataclass
class PromptedOutputs:
    """One prompted forward: answer-row logits ``[B, V]``, all layers' attentions (or None), the
    prompt length, the full key mask ``[B, N]`` and the full position → slot map ``[B, N]``."""

    answer_logits: Tensor
    attentions: Sequence[Tensor] | None
    offset: int
    key_mask: Tensor
    slot_index: Tensor | None
    logits: Tensor | None = None  # aligned with the batch's labels (evaluation loss)


def option_logits(answer_logits: Tensor, option_ids: Tensor) -> Tensor:
    """Logits of each option letter ``[B, n_options]`` (``-inf`` on padding)."""
    valid = option_ids >= 0
    picked = answer_logits.gather(1, option_ids.clamp(min=0))
    return picked.masked_fill(~valid, float("-inf"))


DEFAULT_GROUPS = {"basis": {"lr": 1e-3, "weight_decay": 1e-3, "max_grad_norm": 100.0},
                  "user_logits": {"lr": 1e-3, "weight_decay": 1e-3, "max_grad_norm": 5.0}}


class Fixate(Objective):
    """FixATE prompt tuning; options mirror ``conf/objective/fixate.yaml`` (see module docstring)."""

    needs = frozenset({"attentions"})

    def __init__(self, operator: Mapping[str, Any] | None = None, n_basis: int = 8, n_tokens: int = 16,
                 init_std: float = 0.01, personalised: bool = True, attention_loss: str = "weighted_full_kl",
                 gamma: float = 2.0, top_k: int = 5, lambda_target: float = 0.5, lambda_warmup_steps: int = 30,
                 lambda_ramp_steps: int | None = None, ce_weight: float = 0.5, logit_reg: float = 1e-3,
                 train_grad_scale: float = 0.1, create_graph: bool = True,
                 param_groups: Mapping[str, Mapping[str, Any]] | None = None, init_prompts: str | None = None):
        op = dict(operator or {"name": "glimpse_fixate", "last_k": 6})
        self.operator = str(op.pop("name"))
        self.last_k = op.pop("last_k", 6)
        self.operator_params = dict(op.pop("params", None) or {}, **op)
        check_in_forward(self.operator)
        if attention_loss not in ATTENTION_LOSSES:
            raise ValueError(f"fixate: unknown attention_loss {attention_loss!r}; expected one of "
                             f"{', '.join(ATTENTION_LOSSES)}")
        self.n_basis, self.n_tokens, self.init_std, self.personalised = n_basis, n_tokens, init_std, personalised
        self.attention_loss, self.gamma, self.top_k = attention_loss, float(gamma), int(top_k)
        self.lambda_target, self.lambda_warmup_steps = float(lambda_target), int(lambda_warmup_steps)
        self.lambda_ramp_steps = lambda_ramp_steps
        self.ce_weight, self.logit_reg = float(ce_weight), float(logit_reg)
        self.train_grad_scale, self.create_graph = float(train_grad_scale), bool(create_graph)
        groups = {k: dict(v) for k, v in DEFAULT_GROUPS.items()}
        for name, options in (param_groups or {}).items():
            if name not in groups:
                raise ValueError(f"fixate: unknown parameter group {name!r}; expected basis or user_logits")
            groups[name].update(options)
        self.group_options = groups
        self.init_prompts = init_prompts
        self.soft_prompt: PersonalSoftPrompt | None = None
        self.users: list[str] = []

    # -- wiring -----------------------------------------------------------------------
    def setup(self, module: Any) -> None:
        backbone = module.backbone
        if not backbone.is_causal:
            raise ValueError("fixate needs a causal backbone: the soft prompt is prepended to the input and "
                             "relevance propagates through self-attention over the whole sequence")
        if backbone.has_lora:
            raise ValueError("fixate trains only the soft prompts on a frozen backbone: set model.lora.enabled=false")
        backbone.freeze()
        hidden = backbone.model.get_input_embeddings().embedding_dim
        if self.soft_prompt is not None and self.soft_prompt.hidden_size == hidden:
            return  # set up again (e.g. a second module on the same backbone): the prompts are kept
        self.soft_prompt = PersonalSoftPrompt(self.n_basis, self.n_tokens, hidden, self.init_std, self.personalised)
        if self.init_prompts:
            self.soft_prompt.load_prompts(PersonalSoftPrompt.load(self.init_prompts))

    def modules(self) -> dict[str, nn.Module]:
        return {"soft_prompt": self.soft_prompt} if self.soft_prompt is not None else {}

    def attach_data(self, datamodule: Any) -> None:
        """Users of the data (``datamodule.users``): each gets ``z_u`` (0 = the population prompt)."""
        self.users = list(getattr(datamodule, "users", []) or [])
        if self.soft_prompt is not None:
            self.soft_prompt.add_users(self.users)

    def parameter_groups(self) -> list[dict[str, Any]]:
        assert self.soft_prompt is not None, "setup(module) first"
        groups = [{"name": "soft_prompt.basis", "params": [self.soft_prompt.basis], **self.group_options["basis"]}]
        logits = list(self.soft_prompt.user_logits.values())
        if logits:
            groups.append({"name": "soft_prompt.user_logits", "params": logits, **self.group_options["user_logits"]})
        return groups

    def batch_users(self, batch: Mapping[str, Tensor]) -> list[str | None]:
        if "user_index" not in batch:
            return [None] * batch["input_ids"].shape[0]
        out = []
        for i in batch["user_index"].tolist():
            if i >= len(self.users):
                raise GazelmInputError(f"user_index {i} but the objective knows {len(self.users)} users "
                                       "(attach_data(datamodule) first)", field="user_index")
            out.append(self.users[i] if i >= 0 else None)
        return out

    # -- forward ----------------------------------------------------------------------
    def run(self, batch: Mapping[str, Tensor], module: Any, prompt: str = "personal",
            output_attentions: bool = False, full_logits: bool = False,
            answer_tokens: Tensor | None = None) -> PromptedOutputs:
        """The backbone on ``[P; x]``: ``prompt`` ∈ personal (each example's user), population
        (uniform mixture of the basis) or none (the frozen backbone alone). ``answer_tokens``
        replace the letter that follows the prompt (FixATE feeds the explained letter)."""
        if prompt not in PROMPTS:
            raise ValueError(f"unknown prompt {prompt!r}; expected one of {', '.join(PROMPTS)}")
        if "position_ids" in batch:
            raise ValueError("fixate reads one trial per row (a soft prompt before each, slots and the answer "
                             "row by position): set data.packing=false")
        model = module.backbone.model
        prefix, offset = None, 0
        input_ids = batch["input_ids"]
        if answer_tokens is not None:
            where = batch["answer_position"].long() + 1
            fits = where < input_ids.shape[1]
            input_ids = input_ids.clone()
            rows = torch.arange(input_ids.shape[0], device=input_ids.device)[fits]
            input_ids[rows, where[fits]] = answer_tokens[fits].to(input_ids.dtype)
        if prompt != "none":
            n = batch["input_ids"].shape[0]
            users = self.batch_users(batch) if prompt == "personal" else [None] * n
            prefix = self.soft_prompt.prompts(users, freeze_basis=batch.get("adapt_only"))
            offset = self.soft_prompt.n_tokens
        # the backbone places the prompt: embeddings (a VLM's with its images) and positions
        inputs = module.backbone.model_inputs({**batch, "input_ids": input_ids}, prefix)
        embeds, mask = inputs.pop("inputs_embeds"), inputs.pop("attention_mask")
        if output_attentions and torch.is_grad_enabled() and not embeds.requires_grad:
            embeds = embeds.detach().requires_grad_(True)  # a frozen model without prompt: ∂s/∂A still exists
        rows = batch["answer_position"].long() + offset
        extra: dict[str, Any] = {}
        from gazelm.attention.forward import _keeps_logits

        keep = None
        if not full_logits and _keeps_logits(type(model)):
            keep = torch.unique(rows)
            extra["logits_to_keep"] = keep
        outputs = model(inputs_embeds=embeds, attention_mask=mask, output_attentions=output_attentions,
                        **{"use_cache": False, **inputs, **extra})
        logits = outputs.logits
        if keep is not None and logits.shape[1] == keep.numel():
            where = torch.searchsorted(keep, rows)
        else:
            where = rows
        answer = logits.gather(1, where.view(-1, 1, 1).expand(-1, 1, logits.shape[-1])).squeeze(1)
        slot_index = None
        if "slot_index" in batch:
            pad = torch.full((embeds.shape[0], offset), -1, dtype=batch["slot_index"].dtype,
                             device=batch["slot_index"].device)
            slot_index = torch.cat([pad, batch["slot_index"]], dim=1)
        elif "slot_matrix" in batch:  # images: [B, n_slots, S] patch counts of each visual token per slot
            matrix = batch["slot_matrix"]
            slot_index = torch.cat([matrix.new_zeros(*matrix.shape[:2], offset), matrix], dim=2)
        aligned = logits[:, offset:] if full_logits else None
        return PromptedOutputs(answer, outputs.attentions if output_attentions else None, offset, mask.bool(),
                               slot_index, aligned)

    def forward(self, batch: Mapping[str, Tensor], module: Any) -> PromptedOutputs:
        step = int(getattr(module, "global_step", 0))
        return self.run(batch, module, "personal", output_attentions=self.lambda_now(step) > 0)

    def eval_loss(self, batch: Mapping[str, Tensor], module: Any) -> tuple[Tensor, Tensor]:
        """Summed CE of the answer letters under the personal prompts, and their count."""
        out = self.run(batch, module, "personal")
        nll, answered = self.answer_nll(out.answer_logits, batch)
        return nll.sum(), answered.sum()

    # -- loss -------------------------------------------------------------------------
    def window_counts(self, batch: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """What the loss divides by, for one micro-batch: answered trials (one label token each) and trials."""
        labels = batch["labels"]
        return {"n_label_tokens": (labels != -100).sum(), "n_examples": torch.tensor(labels.shape[0], device=labels.device)}

    def lambda_now(self, step: int) -> float:
        if self.ce_weight == 0.0:  # FixATE: without the choice loss, no warm-up
            return self.lambda_target
        return lambda_at(step, self.lambda_target, self.lambda_warmup_steps, self.lambda_ramp_steps)

    @staticmethod
    def answer_nll(answer_logits: Tensor, batch: Mapping[str, Tensor]) -> tuple[Tensor, Tensor]:
        """``−log p(answer letter)`` over the whole vocabulary ``[B]`` (0 without an answer) and the mask."""
        choice = batch["choice_index"].long()
        answered = choice >= 0
        token = batch["option_ids"].gather(1, choice.clamp(min=0).view(-1, 1)).squeeze(1).clamp(min=0)
        nll = F.cross_entropy(answer_logits.float(), token, reduction="none")
        return nll * answered, answered

    def explained_tokens(self, answer_logits: Tensor, batch: Mapping[str, Tensor], mode: str = "tf") -> Tensor:
        """Token whose logit is explained: the participant's letter (``tf``; the correct letter for a
        trial without an answer, which is also the letter its input carries; else the model's own)
        or the model's top option letter (``gen``: greedy one-token generation over the options)."""
        options = batch["option_ids"]
        predicted = options.gather(1, option_logits(answer_logits.detach(), options).argmax(1, keepdim=True)).squeeze(1)
        if mode == "gen":
            return predicted
        choice = batch["choice_index"].long()
        fallback = batch["correct_index"].long() if "correct_index" in batch else torch.full_like(choice, -1)
        index = torch.where(choice >= 0, choice, fallback)
        chosen = options.gather(1, index.clamp(min=0).view(-1, 1)).squeeze(1)
        return torch.where(index >= 0, chosen, predicted)

    def slot_attention(self, out: PromptedOutputs, batch: Mapping[str, Tensor], tokens: Tensor,
                       create_graph: bool, grad_scale: float) -> Tensor:
        """``a`` ``[B, n_slots]``: the operator's relevance for ``tokens``' logits, pooled to slots."""
        score = out.answer_logits.gather(1, tokens.view(-1, 1)).sum()
        rows = batch["answer_position"].long() + out.offset
        relevance = relevance_in_forward(self.operator, out.attentions, score, rows, out.key_mask,
                                         last_k=self.last_k, create_graph=create_graph, grad_scale=grad_scale,
                                         **self.operator_params)
        return slot_relevance(relevance, out.slot_index, batch["gaze_target"].shape[1], eps=EPS)

    def attention_divergence(self, g: Tensor, a: Tensor, mask: Tensor) -> Tensor:
        if self.attention_loss == "plain_kl":
            return plain_kl(g, a, mask)
        if self.attention_loss == "coarsened_kl":
            return coarsened_kl(g, a, self.top_k, self.gamma, mask)
        return weighted_full_kl(g, a, self.gamma, mask)

    def loss(self, batch: dict[str, Tensor], outputs: PromptedOutputs, module: Any) -> tuple[Tensor, Logs]:
        step = int(getattr(module, "global_step", 0))
        lam = self.lambda_now(step)
        nll, answered = self.answer_nll(outputs.answer_logits, batch)
        ce = nll.sum() / module.items_normalizer(batch, "n_label_tokens")
        n_examples = module.items_normalizer(batch, "n_examples")
        users = self.batch_users(batch)
        reg = self.soft_prompt.logit_penalty(users) * len(users) / n_examples
        loss = self.ce_weight * ce + self.logit_reg * reg
        logs: Logs = {"ce": (nll.sum() / answered.sum().clamp(min=1)).detach(), "lambda_attn": torch.tensor(lam),
                      "logit_reg": reg.detach()}
        if lam > 0:
            tokens = self.explained_tokens(outputs.answer_logits, batch, "tf")
            a = self.slot_attention(outputs, batch, tokens, self.create_graph, self.train_grad_scale)
            g, mask = batch["gaze_target"].float(), batch["slot_mask"].bool()
            has_slots = mask.any(dim=1).to(a.dtype)
            attn = (self.attention_divergence(g, a, mask) * has_slots).sum() / n_examples
            loss = loss + lam * attn
            logs["attn_loss"] = attn.detach()
            logs["kl"] = ((plain_kl(g, a.detach(), mask) * has_slots).sum() / has_slots.sum().clamp(min=1))
        return loss, logs

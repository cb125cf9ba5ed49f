"""Reward-guided SFT: λ warm-up, attention-motif reward by hand, self-critical with a fixed sampler."""
from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from gazelm.objectives.base import Objective
from gazelm.objectives.reward import RewardSFT, warmup_lambda
from gazelm.objectives.rewards import (
    AttentionMotifReward,
    GenerateSampler,
    SelfCriticalReward,
    before_eos,
    prompt_batch,
)
from tests.helpers.objectives import fake_module

# ------------------------------------------------------------------ λ schedule

@pytest.mark.parametrize("step,expected", [(0, 0.0), (5, 0.0), (10, 0.25), (15, 0.5), (100, 0.5)])
def test_warmup_lambda(step, expected):
    assert warmup_lambda(step, lam=0.5, warmup_steps=10, delay_steps=5) == pytest.approx(expected)


def test_no_warmup_is_constant_and_negative_rejected():
    assert warmup_lambda(0, lam=0.3) == 0.3
    with pytest.raises(ValueError, match=">= 0"):
        RewardSFT(lam=-1.0)


# ------------------------------------------------------------------ attention motif by hand

def enc_dec_case():
    batch = {
        "input_ids": torch.tensor([[5, 6, 7, 8]]),
        "attention_mask": torch.ones(1, 4, dtype=torch.long),
        "labels": torch.tensor([[0, 2, -100]]),
        "label_weights": torch.ones(1, 3),
        "source_mask": torch.tensor([[False, True, True, True]]),
        "gaze_mask": torch.tensor([[False, True, False, True]]),
    }
    cross = torch.tensor([[[[0.1, 0.2, 0.3, 0.4], [0.3, 0.3, 0.2, 0.2], [1.0, 0.0, 0.0, 0.0]]]])
    logits = torch.tensor([[[0.5, 0.25, 0.25], [0.25, 0.25, 0.5], [1 / 3, 1 / 3, 1 / 3]]]).log()
    # queries: decoder rows 0, 1 → mean [0.2, 0.25, 0.25, 0.3]; source keys 1..3 → [0.25, 0.25, 0.3] / 0.8
    p = [0.3125, 0.3125, 0.375]
    kl = 0.5 * math.log(0.5 / p[0]) + 0.5 * math.log(0.5 / p[2])
    ce = -(math.log(0.5) + math.log(0.5)) / 2
    return batch, SimpleNamespace(logits=logits, cross_attentions=(cross,)), kl, ce


def test_attention_motif_encoder_decoder_by_hand():
    batch, outputs, kl, _ = enc_dec_case()
    reward = AttentionMotifReward(target="gaze_mask")
    loss, logs = reward.loss(batch, outputs, fake_module(reward, causal=False))
    assert loss.item() == pytest.approx(kl, rel=1e-5)
    assert logs["attention_valid"].item() == 1.0


def test_attention_motif_causal_by_hand():
    batch = {
        "input_ids": torch.tensor([[1, 2, 3, 7, 8]]),
        "attention_mask": torch.ones(1, 5, dtype=torch.long),
        "labels": torch.tensor([[-100, -100, -100, 7, 8]]),
        "source_mask": torch.tensor([[False, True, True, False, False]]),
        "gaze_mask": torch.tensor([[False, True, False, False, False]]),
    }
    attn = torch.zeros(1, 1, 5, 5)
    attn[0, 0, 2] = torch.tensor([0.2, 0.3, 0.5, 0.0, 0.0])  # row 2 predicts label 7
    attn[0, 0, 3] = torch.tensor([0.1, 0.1, 0.4, 0.4, 0.0])  # row 3 predicts label 8
    attn[0, 0, 4] = torch.tensor([0.0, 0.0, 0.0, 0.0, 1.0])  # row 4 predicts nothing
    outputs = SimpleNamespace(attentions=(attn,))
    # mean rows 2, 3 = [0.15, 0.2, 0.45, 0.2, 0]; source keys 1, 2 → [0.2, 0.45] / 0.65; target [1, 0]
    kl_reward, cos_reward = AttentionMotifReward(target="gaze_mask"), AttentionMotifReward(divergence="cosine")
    kl, _ = kl_reward.loss(batch, outputs, fake_module(kl_reward))
    assert kl.item() == pytest.approx(math.log(0.65 / 0.2), rel=1e-5)
    cos, _ = cos_reward.loss(batch, outputs, fake_module(cos_reward))
    assert cos.item() == pytest.approx(1 - 0.2 / math.hypot(0.2, 0.45), rel=1e-5)


def test_reward_sft_adds_lambda_times_reward():
    batch, outputs, kl, ce = enc_dec_case()
    objective = RewardSFT(reward="attention_motif", lam=0.5, warmup_steps=10,
                          reward_options={"attention_motif": {"target": "gaze_mask", "layers": [-1]}})
    assert objective.needs == {"attentions"}
    loss, logs = objective.loss(batch, outputs, fake_module(objective, causal=False, step=4))
    assert loss.item() == pytest.approx(ce + 0.2 * kl, rel=1e-5)
    assert logs["lambda"].item() == pytest.approx(0.2)


def test_reward_not_computed_while_lambda_is_zero():
    class Exploding(Objective):
        def loss(self, *args):
            raise AssertionError("reward computed during the delay")

    batch, outputs, _, ce = enc_dec_case()
    objective = RewardSFT(reward=Exploding(), lam=1.0, delay_steps=3)
    loss, _ = objective.loss(batch, outputs, fake_module(objective, causal=False, step=2))
    assert loss.item() == pytest.approx(ce, rel=1e-6)


def test_reward_by_name_uses_its_options():
    objective = RewardSFT(reward="codebleu", reward_options={"codebleu": {"lang": "python", "max_new_tokens": 7},
                                                             "attention_motif": {"layers": [0]}})
    assert isinstance(objective.reward, SelfCriticalReward)
    assert (objective.reward.metric, objective.reward.lang, objective.reward.sampler.max_new_tokens) == (
        "codebleu", "python", 7)
    assert RewardSFT(reward="bleu").reward.metric == "bleu_sacre"
    with pytest.raises(KeyError, match="unknown reward 'rouge'"):
        RewardSFT(reward="rouge")


# ------------------------------------------------------------------ tiny real models

WORDS = ["<pad>", "</s>", "<unk>", "<s>", "a", "b", "c", "d", "e", "f", "g", "h", "x", "y", "z", "w"]


def word_tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>",
                                   bos_token="<s>")


def ids(text: str) -> list[int]:
    return [WORDS.index(w) for w in text.split()]


def tiny_llama():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(WORDS), hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64,
                         pad_token_id=0, eos_token_id=1, bos_token_id=3)
    config._attn_implementation = "eager"
    return LlamaForCausalLM(config)


def tiny_t5():
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    config = T5Config(vocab_size=len(WORDS), d_model=16, d_kv=8, d_ff=32, num_layers=2, num_heads=2,
                      pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
    config._attn_implementation = "eager"
    return T5ForConditionalGeneration(config)


def pad(rows: list[list[int]], value: int) -> torch.Tensor:
    width = max(len(r) for r in rows)
    return torch.tensor([r + [value] * (width - len(r)) for r in rows])


PROMPTS = ["<s> a b c", "<s> d e"]
TARGETS = ["x y z w </s>", "w z y x x </s>"]


def causal_batch() -> dict[str, torch.Tensor]:
    rows = [ids(p) + ids(t) for p, t in zip(PROMPTS, TARGETS)]
    labels = [[-100] * len(ids(p)) + ids(t) for p, t in zip(PROMPTS, TARGETS)]
    source = [[False] + [True] * (len(ids(p)) - 1) + [False] * len(ids(t)) for p, t in zip(PROMPTS, TARGETS)]
    return {"input_ids": pad(rows, 0), "attention_mask": pad([[1] * len(r) for r in rows], 0),
            "labels": pad(labels, -100), "source_mask": pad(source, False).bool(),
            "gaze_mask": pad([[False, True] + [False] * (len(r) - 2) for r in rows], False).bool()}


def enc_dec_batch() -> dict[str, torch.Tensor]:
    rows = [ids(p)[1:] + [1] for p in PROMPTS]
    return {"input_ids": pad(rows, 0), "attention_mask": pad([[1] * len(r) for r in rows], 0),
            "labels": pad([ids(t) for t in TARGETS], -100),
            "source_mask": pad([[True] * (len(r) - 1) + [False] for r in rows], False).bool(),
            "gaze_mask": pad([[True] + [False] * (len(r) - 1) for r in rows], False).bool()}


class FixedSampler:
    """Sampled = the reference (BLEU 1), greedy = unrelated words (BLEU 0), or swapped."""

    def __init__(self, swap: bool = False):
        self.swap = swap

    def __call__(self, module, batch, greedy):
        good = pad([ids(t) for t in TARGETS], 0)
        bad = pad([ids("a a </s>"), ids("b </s>")], 0)
        return bad if greedy != self.swap else good


def expected_sum_logp_causal(model, sequences: list[str]) -> float:
    total = 0.0
    for prompt, seq in zip(PROMPTS, sequences):
        full = torch.tensor([ids(prompt) + ids(seq)])
        logp = F.log_softmax(model(input_ids=full).logits[0].float(), -1)
        n = len(ids(prompt))
        total += sum(logp[n - 1 + k, tok].item() for k, tok in enumerate(ids(seq)))
    return total


def expected_sum_logp_enc_dec(model, sequences: list[str]) -> float:
    total = 0.0
    for prompt, seq in zip(PROMPTS, sequences):
        enc = torch.tensor([ids(prompt)[1:] + [1]])
        dec = torch.tensor([ids(seq)])
        logp = F.log_softmax(model(input_ids=enc, labels=dec).logits[0].float(), -1)
        total += sum(logp[k, tok].item() for k, tok in enumerate(ids(seq)))
    return total


@pytest.mark.parametrize("causal", [True, False], ids=["causal", "enc-dec"])
@pytest.mark.parametrize("swap", [False, True], ids=["sample-wins", "greedy-wins"])
def test_self_critical_with_fixed_sampler(causal, swap):
    model = (tiny_llama() if causal else tiny_t5()).eval()
    batch = causal_batch() if causal else enc_dec_batch()
    reward = SelfCriticalReward(metric="bleu_sacre", sampler=FixedSampler(swap))
    module = fake_module(reward, causal=causal, model=model, tokenizer=word_tokenizer())
    loss, logs = reward.loss(batch, None, module)
    sampled = ["a a </s>", "b </s>"] if swap else TARGETS
    expected_fn = expected_sum_logp_causal if causal else expected_sum_logp_enc_dec
    advantage = -1.0 if swap else 1.0
    assert logs["advantage"].item() == pytest.approx(advantage)
    assert loss.item() == pytest.approx(-advantage * expected_fn(model, sampled) / 2, rel=1e-4)
    loss.backward()  # policy gradient reaches the weights
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_prompt_batch_left_pads_causal_prompts_and_before_eos():
    prompt, mask = prompt_batch(causal_batch(), True, pad_id=0)
    assert prompt.tolist() == [ids("<s> a b c"), [0] + ids("<s> d e")]
    assert mask.tolist() == [[1, 1, 1, 1], [0, 1, 1, 1]]
    assert before_eos(torch.tensor([[5, 1, 0, 0], [5, 6, 7, 8]]), 1).tolist() == [
        [True, True, False, False], [True, True, True, True]]


@pytest.mark.parametrize("causal", [True, False], ids=["causal", "enc-dec"])
def test_generate_sampler_returns_continuations(causal):
    model = tiny_llama() if causal else tiny_t5()
    batch = causal_batch() if causal else enc_dec_batch()
    module = fake_module(causal=causal, model=model, tokenizer=word_tokenizer())
    sampler = GenerateSampler(max_new_tokens=3)
    greedy = sampler(module, batch, True)
    assert greedy.shape[0] == 2 and 1 <= greedy.shape[1] <= 3
    assert torch.equal(greedy, sampler(module, batch, True))
    assert model.training  # restored after generating in eval mode


@pytest.mark.parametrize("causal", [True, False], ids=["causal", "enc-dec"])
def test_attention_reward_gradient_reaches_attention_weights(causal):
    model = tiny_llama() if causal else tiny_t5()
    batch = causal_batch() if causal else enc_dec_batch()
    kwargs = {} if causal else {"labels": batch["labels"]}
    outputs = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], output_attentions=True,
                    **kwargs)
    reward = AttentionMotifReward(target="gaze_mask")
    loss, logs = reward.loss(batch, outputs, fake_module(reward, causal=causal, model=model))
    assert logs["attention_valid"].item() == 1.0 and loss.item() > 0
    loss.backward()
    name = "self_attn.q_proj" if causal else "EncDecAttention.q"
    grads = [p.grad for n, p in model.named_parameters() if name in n]
    assert grads and all(g is not None and g.abs().sum() > 0 for g in grads)



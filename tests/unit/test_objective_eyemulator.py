"""EyeMulator weighted cross-entropy: exact values by hand, CE equivalence, accumulation."""
from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch

from gazelm.objectives.ce import CrossEntropy
from gazelm.objectives.eyemulator import EyeMulator, example_weights, objective_window_counts

LN = math.log


def fake_module(causal: bool, accumulate: int = 1, window: dict | None = None, model=None) -> SimpleNamespace:
    """Module stand-in: ``items_normalizer`` = the window total (or this batch's count) / accumulate."""
    def items_normalizer(batch, key):
        counts = window if window is not None else objective_window_counts(batch)
        return counts[key].float() / accumulate

    backbone = SimpleNamespace(is_causal=causal, model=model, has_lora=False, tokenizer=None)
    return SimpleNamespace(backbone=backbone, global_step=0, items_normalizer=items_normalizer)


def logits_of(probs: list[list[list[float]]]) -> torch.Tensor:
    """Logits whose log-softmax is exactly log(probs) (rows sum to 1)."""
    return torch.tensor(probs, dtype=torch.float64).log()


# Encoder-decoder: 3 decoder positions, vocab 3; labels [0, 2, 2]
P_ENC = [[[0.5, 0.25, 0.25], [0.25, 0.5, 0.25], [0.125, 0.125, 0.75]]]


def enc_batch() -> dict[str, torch.Tensor]:
    return {
        "input_ids": torch.tensor([[5, 6, 7, 8]]),
        "attention_mask": torch.ones(1, 4, dtype=torch.long),
        "labels": torch.tensor([[0, 2, 2]]),
        "label_weights": torch.tensor([[2.0, 3.0, 5.0]]),
        "input_weights": torch.tensor([[1.0, 2.0, 4.0, 1.0]]),
        "code_token_mask": torch.tensor([[False, True, True, False]]),
        "gaze_mask": torch.tensor([[False, True, False, False]]),
        "source_mask": torch.tensor([[False, True, True, False]]),
    }


def test_token_scope_target_active_tokens_encoder_decoder():
    loss, logs = EyeMulator().loss(enc_batch(), SimpleNamespace(logits=logits_of(P_ENC)), fake_module(False))
    expected = -(2 * LN(0.5) + 3 * LN(0.25) + 5 * LN(0.75)) / 3
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert logs["ce"].item() == pytest.approx(-(LN(0.5) + LN(0.25) + LN(0.75)) / 3, rel=1e-6)


def test_token_scope_weight_sum_normalisation():
    loss, _ = EyeMulator(normalize="weight_sum").loss(enc_batch(), SimpleNamespace(logits=logits_of(P_ENC)),
                                                      fake_module(False))
    assert loss.item() == pytest.approx(-(2 * LN(0.5) + 3 * LN(0.25) + 5 * LN(0.75)) / 10, rel=1e-6)


@pytest.mark.parametrize("reduce,w", [("max", 4.0), ("mean", 3.0)])
def test_example_scope(reduce, w):
    out = SimpleNamespace(logits=logits_of(P_ENC))
    loss, _ = EyeMulator(scope="example", reduce=reduce).loss(enc_batch(), out, fake_module(False))
    nll = -(LN(0.5) + LN(0.25) + LN(0.75))
    assert loss.item() == pytest.approx(w * nll / 3, rel=1e-6)
    loss, _ = EyeMulator(scope="example", reduce=reduce, normalize="weight_sum").loss(enc_batch(), out,
                                                                                      fake_module(False))
    assert loss.item() == pytest.approx(w * nll / (3 * w), rel=1e-6)


def test_example_weights_without_code_tokens_is_one():
    w = example_weights(torch.tensor([[3.0, 7.0], [2.0, 6.0]]), torch.tensor([[False, False], [True, True]]), "max")
    assert w.tolist() == [1.0, 6.0]


# Causal: ids [9, c1=1, c2=2, t1=0, t2=2]; code tokens at 1, 2; labels on 3, 4.
# logits row i predicts token i+1.
P_CAUSAL = [[[0.2, 0.6, 0.2], [0.1, 0.1, 0.8], [0.5, 0.25, 0.25], [0.3, 0.3, 0.4], [1 / 3, 1 / 3, 1 / 3]]]


def causal_batch() -> dict[str, torch.Tensor]:
    weights = torch.tensor([[1.0, 2.0, 4.0, 3.0, 1.5]])
    return {
        "input_ids": torch.tensor([[9, 1, 2, 0, 2]]),
        "attention_mask": torch.ones(1, 5, dtype=torch.long),
        "labels": torch.tensor([[-100, -100, -100, 0, 2]]),
        "label_weights": weights,
        "input_weights": weights,
        "code_token_mask": torch.tensor([[False, True, True, False, False]]),
        "gaze_mask": torch.tensor([[False, True, False, False, False]]),
        "source_mask": torch.tensor([[False, True, True, False, False]]),
    }


@pytest.mark.parametrize("loss_on,normalize,expected", [
    ("target", "active_tokens", -(3 * LN(0.5) + 1.5 * LN(0.4)) / 2),
    ("target", "weight_sum", -(3 * LN(0.5) + 1.5 * LN(0.4)) / 4.5),
    ("input", "active_tokens", -(2 * LN(0.6) + 4 * LN(0.8)) / 2),
    ("input", "weight_sum", -(2 * LN(0.6) + 4 * LN(0.8)) / 6),
    ("both", "active_tokens", -(2 * LN(0.6) + 4 * LN(0.8) + 3 * LN(0.5) + 1.5 * LN(0.4)) / 4),
    ("both", "weight_sum", -(2 * LN(0.6) + 4 * LN(0.8) + 3 * LN(0.5) + 1.5 * LN(0.4)) / 10.5),
])
def test_causal_loss_on(loss_on, normalize, expected):
    objective = EyeMulator(loss_on=loss_on, normalize=normalize)
    loss, _ = objective.loss(causal_batch(), SimpleNamespace(logits=logits_of(P_CAUSAL)), fake_module(True))
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_input_loss_needs_causal_model():
    with pytest.raises(ValueError, match="needs a causal model"):
        EyeMulator(loss_on="input").setup(fake_module(False))
    with pytest.raises(ValueError, match="scope=example"):
        EyeMulator(scope="example", loss_on="both")
    with pytest.raises(ValueError, match="unknown normalize"):
        EyeMulator(normalize="tokens")


def random_batch(b: int, t: int, causal: bool, seed: int = 0, vocab: int = 50) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(t // 2, t + 1, (b,), generator=g)
    mask = (torch.arange(t)[None] < lengths[:, None]).long()
    ids = torch.randint(3, vocab, (b, t), generator=g) * mask
    prompt = torch.randint(2, t // 2, (b,), generator=g)
    pos = torch.arange(t)[None]
    labels = ids.masked_fill((pos < prompt[:, None]) | (mask == 0), -100) if causal else ids.masked_fill(mask == 0, -100)
    code = (pos >= 1) & (pos < prompt[:, None]) & (mask == 1)
    weights = torch.where(code | (labels != -100), 1 + 4 * torch.rand(b, t, generator=g), torch.ones(b, t))
    return {
        "input_ids": ids, "attention_mask": mask, "labels": labels,
        "label_weights": weights, "input_weights": weights, "code_token_mask": code,
        "gaze_mask": code & (torch.rand(b, t, generator=g) < 0.5), "source_mask": code,
    }


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("scope", ["token", "example"])
def test_all_ones_equals_cross_entropy(causal, scope):
    batch = random_batch(4, 12, causal)
    batch["label_weights"] = torch.ones_like(batch["label_weights"])
    batch["input_weights"] = torch.ones_like(batch["input_weights"])
    logits = torch.randn(4, 12, 50, generator=torch.Generator().manual_seed(1))
    module = fake_module(causal)
    ce, _ = CrossEntropy().loss(batch, SimpleNamespace(logits=logits), module)
    for normalize in ("active_tokens", "weight_sum"):
        em, _ = EyeMulator(scope=scope, normalize=normalize).loss(batch, SimpleNamespace(logits=logits), module)
        assert torch.allclose(em, ce, rtol=1e-6, atol=0)


def test_counts_agree_with_datamodule_window_counts():
    from gazelm.data.collate import window_counts

    batch = random_batch(5, 10, True)
    ours, theirs = objective_window_counts(batch), window_counts(batch)
    for key, value in theirs.items():
        assert torch.allclose(ours[key].float(), value.float())


def tiny_llama():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=50, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=32)
    return LlamaForCausalLM(config).double()


def grads(model) -> list[torch.Tensor]:
    return [p.grad.detach().clone() for p in model.parameters() if p.grad is not None]


@pytest.mark.parametrize("objective", [
    EyeMulator(), EyeMulator(normalize="weight_sum"), EyeMulator(loss_on="both"),
    EyeMulator(loss_on="input", normalize="weight_sum"), EyeMulator(scope="example", reduce="mean"),
    EyeMulator(scope="example", normalize="weight_sum"),
], ids=["token", "token-wsum", "both", "input-wsum", "example-mean", "example-wsum"])
def test_gradient_accumulation_2x4_equals_batch_8(objective):
    model = tiny_llama()
    batch = random_batch(8, 12, causal=True, seed=3)
    module = fake_module(True)

    def step(b, m):
        return objective.loss(b, model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]), m)[0]

    step(batch, module).backward()
    full = grads(model)
    model.zero_grad()
    halves = [{k: v[:4] for k, v in batch.items()}, {k: v[4:] for k, v in batch.items()}]
    window = {k: objective_window_counts(halves[0])[k] + objective_window_counts(halves[1])[k]
              for k in objective_window_counts(halves[0])}
    accumulated = fake_module(True, accumulate=2, window=window)
    for half in halves:
        (step(half, accumulated) / 2).backward()  # Lightning divides by accumulate_grad_batches
    for a, b in zip(full, grads(model)):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-8)

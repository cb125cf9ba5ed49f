"""Packing (``data.packing: true``): layout by hand, and packed = unpacked for loss, gradients
and the accumulation counts, for ``ce`` and every ``eyemulator`` variant, eager and SDPA."""
from __future__ import annotations

import pytest
import torch

from gazelm.data.collate import pad_batch
from gazelm.data.packing import example_starts, first_fit_decreasing, pack_batch, segment_ids
from gazelm.models.backbones import Backbone
from gazelm.objectives.ce import CrossEntropy
from gazelm.objectives.base import example_count
from gazelm.objectives.eyemulator import COUNTS, EyeMulator
from tests.helpers.objectives import assert_same_step, fake_module, loss_and_gradients


def test_first_fit_decreasing_by_hand() -> None:
    # longest first: 5 → row 0 (room 1), 4 → row 1 (room 2), 3 → row 2, 2 → row 1 (room 0), 1 → row 0
    assert first_fit_decreasing([5, 3, 4, 2, 1], capacity=6) == [[0, 4], [2, 3], [1]]
    assert first_fit_decreasing([9, 2], capacity=6) == [[0], [1]]  # too long: a row of its own


def _feature(ids, prompt, i, code=None):
    n = len(ids)
    code = code or [False] * n
    return {"input_ids": ids, "labels": [-100] * prompt + ids[prompt:], "input_weights": [float(v) for v in ids],
            "label_weights": [float(v) for v in ids], "code_token_mask": code, "example_index": i}


def test_pack_batch_layout_by_hand() -> None:
    feats = [_feature([11, 12, 13], 1, 7), _feature([21, 22], 1, 8, code=[True, True]), _feature([31, 32], 0, 9)]
    batch = pack_batch(feats, pad_token_id=0, capacity=4)
    # lengths 3, 2, 2 into rows of 4: [ex 7] and [ex 8, ex 9]; the first row padded by one
    assert batch["input_ids"].tolist() == [[11, 12, 13, 0], [21, 22, 31, 32]]
    assert batch["position_ids"].tolist() == [[0, 1, 2, 0], [0, 1, 0, 1]]
    assert batch["segment_ids"].tolist() == [[0, 0, 0, -1], [1, 1, 2, 2]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 0], [1, 1, 1, 1]]
    # each example's first label is dropped (ex 9 had no prompt): the previous example must not predict it
    assert batch["labels"].tolist() == [[-100, 12, 13, -100], [-100, 22, -100, 32]]
    assert batch["input_weights"].tolist() == [[11.0, 12.0, 13.0, 1.0], [21.0, 22.0, 31.0, 32.0]]
    assert batch["code_token_mask"].tolist() == [[False] * 4, [True, True, False, False]]
    assert batch["example_index"].tolist() == [7, 8, 9]
    assert example_starts(batch).tolist() == [[True, False, False, False], [True, False, True, False]]


def test_unpacked_batches_describe_one_example_per_row() -> None:
    batch = pad_batch([_feature([1, 2, 3], 1, 0), _feature([4], 0, 1)], 0)
    assert segment_ids(batch).tolist() == [[0, 0, 0], [1, 1, 1]]
    assert example_starts(batch).tolist() == [[True, False, False], [True, False, False]]


def _random_features(n: int, vocab: int, seed: int = 0) -> list[dict]:
    """Causal features as tokenize.py builds them: prompt (code tokens with gaze weights) → target."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        length = int(torch.randint(6, 20, (1,), generator=g))
        prompt = int(torch.randint(2, length - 2, (1,), generator=g))
        ids = torch.randint(3, vocab, (length,), generator=g)
        code = torch.zeros(length, dtype=torch.bool)
        code[1:prompt] = torch.rand(prompt - 1, generator=g) < 0.7
        weights = torch.where(code, 1 + 4 * torch.rand(length, generator=g), torch.ones(length))
        weights[prompt:] = 1 + torch.rand(length - prompt, generator=g)
        out.append({"input_ids": ids, "labels": torch.cat([torch.full((prompt,), -100), ids[prompt:]]),
                    "input_weights": weights, "label_weights": weights, "source_mask": code.clone(),
                    "code_token_mask": code, "gaze_mask": code & (torch.rand(length, generator=g) < 0.5),
                    "example_index": i})
    return out


def _tiny_llama(attention: str) -> Backbone:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=64)
    return Backbone(LlamaForCausalLM._from_config(config, attn_implementation=attention), None, "causal", "tiny")


def test_window_counts_of_packed_batch_equal_unpacked() -> None:
    """Every count an objective divides by (EyeMulator's, the examples) is per example, not per row."""
    feats = _random_features(9, 64)
    unpacked, packed = pad_batch(feats, 0), pack_batch(feats, 0, capacity=30)
    assert packed["input_ids"].shape[0] < unpacked["input_ids"].shape[0]  # it did pack
    assert int(example_count(packed)) == int(example_count(unpacked)) == 9
    for key, count in COUNTS.items():
        torch.testing.assert_close(count(packed).double(), count(unpacked).double(), rtol=1e-6, atol=0)


OBJECTIVES = {
    "ce": CrossEntropy,
    "eyemulator": EyeMulator,
    "eyemulator_input": lambda: EyeMulator(loss_on="input"),
    "eyemulator_both_weight_sum": lambda: EyeMulator(loss_on="both", normalize="weight_sum"),
    "eyemulator_example_max": lambda: EyeMulator(scope="example"),
    "eyemulator_example_mean_weight_sum": lambda: EyeMulator(scope="example", reduce="mean", normalize="weight_sum"),
}


@pytest.mark.parametrize("attention", ["eager", "sdpa"])
@pytest.mark.parametrize("name", OBJECTIVES)
def test_packed_batch_gives_unpacked_loss_and_gradients(name: str, attention: str) -> None:
    backbone = _tiny_llama(attention)
    objective = OBJECTIVES[name]()
    feats = _random_features(9, 64)
    results = []
    for batch in (pad_batch(feats, 0), pack_batch(feats, 0, capacity=30)):
        module = fake_module(objective)
        module.backbone = backbone  # the real one: packed rows reach the model
        backbone.zero_grad()
        outputs = backbone(batch, labels=objective.scored_labels(batch))
        loss, _ = objective.loss(batch, outputs, module)
        loss.backward()
        results.append((loss.detach(), [p.grad.clone() for p in backbone.parameters()]))
    (loss_u, grads_u), (loss_p, grads_p) = results
    assert loss_u > 0
    torch.testing.assert_close(loss_p, loss_u, rtol=1e-5, atol=1e-6)
    for g_p, g_u in zip(grads_p, grads_u):
        torch.testing.assert_close(g_p, g_u, rtol=1e-4, atol=1e-6)


def test_scored_labels_path_equals_full_logits() -> None:
    """The backbone projects only label-predicting positions; log-probs equal the full-logits ones."""
    from gazelm.objectives.tokens import token_log_probs

    backbone = _tiny_llama("sdpa")
    batch = pad_batch(_random_features(5, 64), 0)
    scored = backbone(batch, labels=batch["labels"])
    full = token_log_probs(backbone(batch).logits, batch["labels"], causal=True)
    torch.testing.assert_close(scored.log_probs, full[0])
    assert torch.equal(scored.label_mask, full[1])


def test_scored_labels_without_boolean_logits_to_keep(monkeypatch) -> None:
    """transformers < 5.21 indexes ``hidden_states[:, mask, :]`` with a boolean ``logits_to_keep``
    (an IndexError): there the head is restricted by a hook instead, with the same log-probs."""
    import transformers.modeling_utils

    from gazelm.objectives.tokens import token_log_probs

    monkeypatch.delattr(transformers.modeling_utils, "slice_logits_to_keep", raising=False)
    backbone = _tiny_llama("sdpa")
    assert not backbone.keeps_logits()
    batch = pad_batch(_random_features(5, 64), 0)
    scored = backbone(batch, labels=batch["labels"])
    full = token_log_probs(backbone(batch).logits, batch["labels"], causal=True)
    torch.testing.assert_close(scored.log_probs, full[0])
    assert torch.equal(scored.label_mask, full[1])


def test_scored_labels_path_equals_full_logits_encoder_decoder() -> None:
    """T5: the head runs on the labelled decoder positions only; same log-probs as full logits."""
    from transformers import T5Config, T5ForConditionalGeneration

    from gazelm.objectives.tokens import token_log_probs

    torch.manual_seed(0)
    config = T5Config(vocab_size=64, d_model=32, d_ff=64, d_kv=8, num_heads=4, num_layers=2, num_decoder_layers=2,
                      pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
    backbone = Backbone(T5ForConditionalGeneration(config).eval(), None, "seq2seq", "tiny")  # no dropout
    feats = [{"input_ids": torch.randint(3, 64, (n,)), "labels": torch.randint(3, 64, (m,)), "example_index": i}
             for i, (n, m) in enumerate([(7, 2), (4, 5), (9, 3)])]
    batch = pad_batch(feats, 0)
    scored = backbone(batch, labels=batch["labels"])
    full = token_log_probs(backbone(batch).logits, batch["labels"], causal=False)
    torch.testing.assert_close(scored.log_probs, full[0])
    assert torch.equal(scored.label_mask, full[1]) and int(full[1].sum()) == 10


@pytest.mark.cuda
@pytest.mark.parametrize("precision", ["fp32", "bf16-mixed"])
@pytest.mark.parametrize("name", ["ce", "eyemulator", "eyemulator_both_weight_sum"])
def test_packed_batch_gives_unpacked_loss_and_gradients_on_gpu(name: str, precision: str) -> None:
    """The same on the GPU with SDPA's CUDA kernels (block-diagonal mask from ``position_ids``); under
    bf16 autocast the layouts round differently, so the tolerance is bf16's."""
    from tests.conftest import gpu_device

    device = gpu_device()
    backbone = _tiny_llama("sdpa").to(device)
    objective = OBJECTIVES[name]()
    feats = _random_features(9, 64)
    results = []
    for batch in (pad_batch(feats, 0), pack_batch(feats, 0, capacity=30)):
        batch = {k: v.to(device) for k, v in batch.items()}
        results.append(loss_and_gradients(backbone, objective, batch, device, precision, list(backbone.parameters())))
    assert_same_step(results[1], results[0], precision, fp32=(1e-5, 1e-6, 1e-4, 1e-5), bf16=(1e-2, 1e-3, 2e-2))

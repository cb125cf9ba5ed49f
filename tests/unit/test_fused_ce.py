"""``model.fused_ce: true`` (liger-kernel): clear errors without liger or without CUDA, and the
wiring (hidden states, head weight, shifted targets) gives the plain path's loss."""
from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from gazelm.data.collate import pad_batch
from gazelm.errors import GazelmInputError
from gazelm.models import fused_ce
from gazelm.models.backbones import Backbone
from gazelm.objectives.ce import CrossEntropy
from gazelm.objectives.eyemulator import EyeMulator
from tests.helpers.objectives import assert_same_step, fake_module, loss_and_gradients
from tests.unit.test_packing import _random_features, _tiny_llama

LIGER = "liger_kernel.transformers.functional"


def reference_liger(input, weight, target, bias=None, reduction="mean", softcap=None, **_):
    """What liger's fused linear cross-entropy computes, in plain torch (for the wiring test)."""
    logits = input @ weight.T + (bias if bias is not None else 0)
    if softcap is not None:
        logits = softcap * torch.tanh(logits / softcap)
    return F.cross_entropy(logits.float(), target, reduction=reduction)


@pytest.fixture
def fake_liger(monkeypatch):
    module = types.ModuleType(LIGER)
    module.liger_fused_linear_cross_entropy = reference_liger
    monkeypatch.setitem(sys.modules, LIGER, module)
    return module


def test_without_liger_the_config_fails_with_one_clear_error(tmp_path: Path, shared_cache: Path, monkeypatch) -> None:
    from gazelm.training import build_components
    from tests.helpers.compose import train_config

    monkeypatch.setitem(sys.modules, LIGER, None)  # import fails as when liger-kernel is not installed
    cfg = train_config(tmp_path, shared_cache, "model=tiny_causal", "task=completion", "model.fused_ce=true",
                       "model.tokenizer.vocab_size=600", "data.source.max_examples={train: 16, val: 4, test: 4}")
    with pytest.raises(GazelmInputError, match=r"model.fused_ce.*needs liger-kernel.*gazelm\[gpu\]"):
        build_components(cfg)


def test_fused_ce_on_cpu_says_it_needs_cuda(fake_liger) -> None:
    backbone = _tiny_llama("sdpa")
    backbone = Backbone(backbone.model, None, "causal", "tiny", fused_ce=True)
    batch = pad_batch(_random_features(3, 64), 0)
    with pytest.raises(GazelmInputError, match="needs a CUDA GPU"):
        backbone(batch, labels=batch["labels"])


def test_fused_ce_is_for_causal_models(fake_liger) -> None:
    from transformers import T5Config, T5ForConditionalGeneration

    model = T5ForConditionalGeneration(T5Config(vocab_size=32, d_model=16, d_ff=32, d_kv=4, num_heads=2, num_layers=1))
    with pytest.raises(GazelmInputError, match="causal LMs"):
        Backbone(model, None, "seq2seq", "tiny", fused_ce=True)


@pytest.mark.parametrize("objective", [CrossEntropy(), EyeMulator(), EyeMulator(loss_on="both")],
                         ids=["ce", "eyemulator", "eyemulator_both"])
def test_fused_path_gives_the_plain_loss(objective, fake_liger, monkeypatch) -> None:
    monkeypatch.setattr(fused_ce, "require_cuda", lambda tensor: None)
    plain = _tiny_llama("sdpa")
    fused = Backbone(plain.model, None, "causal", "tiny", fused_ce=True)
    batch = pad_batch(_random_features(5, 64), 0)
    module = fake_module(objective)
    losses = []
    for backbone in (plain, fused):
        module.backbone = backbone
        outputs = backbone(batch, labels=objective.scored_labels(batch))
        losses.append(objective.loss(batch, outputs, module)[0])
    torch.testing.assert_close(losses[1], losses[0])


@pytest.mark.cuda
@pytest.mark.parametrize("precision", ["fp32", "bf16-mixed"])
@pytest.mark.parametrize("objective", [CrossEntropy(), EyeMulator(), EyeMulator(loss_on="both")],
                         ids=["ce", "eyemulator", "eyemulator_both"])
def test_liger_kernel_gives_the_plain_loss_and_gradients_on_gpu(objective, precision) -> None:
    """The real kernel (per-token losses, EyeMulator's weights on them): same loss and gradients
    as the plain head, hidden states and head weight included (fp32: to fp tolerance; bf16: bf16's)."""
    from tests.conftest import gpu_device

    device = gpu_device()
    if device.type != "cuda":
        pytest.skip("liger-kernel's Triton kernel runs on CUDA only")
    pytest.importorskip("liger_kernel.transformers.functional")
    plain = _tiny_llama("sdpa").to(device)
    fused = Backbone(plain.model, None, "causal", "tiny", fused_ce=True)
    batch = {k: v.to(device) for k, v in pad_batch(_random_features(5, 64), 0).items()}
    results = [loss_and_gradients(backbone, objective, batch, device, precision, list(plain.parameters()))
               for backbone in (plain, fused)]
    assert_same_step(results[1], results[0], precision, fp32=(1e-5, 1e-5, 1e-3, 1e-5), bf16=(2e-2, 1e-3, 5e-2))

"""Real checkpoints load by name or path: tested with a tiny model saved locally."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from transformers import LlamaConfig, LlamaForCausalLM, T5Config, T5ForConditionalGeneration

from gazelm.data.tokenizer_training import train_bpe_tokenizer
from gazelm.errors import GazelmInputError
from gazelm.models.backbones import build_backbone
from gazelm.training import train
from tests.helpers.compose import train_config
from tests.helpers.losses import near_chance

TEXTS = ["def f(x):\n    return x + 1", "Return the value.", "class A:\n    pass"] * 20


@pytest.fixture(scope="module")
def saved_models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hub")
    tok = train_bpe_tokenizer(TEXTS, vocab_size=300)
    common = dict(vocab_size=len(tok), pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id)
    models = {
        "causal": LlamaForCausalLM(LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                               num_attention_heads=2, num_key_value_heads=2, **common)),
        "seq2seq": T5ForConditionalGeneration(T5Config(d_model=32, d_ff=64, d_kv=16, num_heads=2, num_layers=1,
                                                       decoder_start_token_id=tok.pad_token_id, **common)),
    }
    for kind, model in models.items():
        model.save_pretrained(root / kind)
        tok.save_pretrained(root / kind)
    return {kind: root / kind for kind in models}


@pytest.mark.parametrize("kind", ["causal", "seq2seq"])
def test_build_backbone_from_a_local_path(kind: str, saved_models: dict[str, Path]) -> None:
    backbone = build_backbone(kind, name_or_path=str(saved_models[kind]),
                              lora={"enabled": True, "r": 4, "lora_alpha": 8,
                                    "target_modules": ["q_proj", "v_proj"] if kind == "causal" else ["q", "v"]})
    assert backbone.is_causal == (kind == "causal") and backbone.has_lora
    counts = backbone.parameter_counts()
    assert 0 < counts["params/trainable"] < counts["params/total"]


def test_train_with_a_saved_model_through_the_config(saved_models: dict[str, Path], tmp_path: Path,
                                                     shared_cache: Path) -> None:
    cfg = train_config(tmp_path, shared_cache, "debug=fdr", "model=qwen2_5_coder_0_5b",
                       f"model.name_or_path={saved_models['causal']}", "model.lora.target_modules=[q_proj,v_proj]",
                       "data.source.max_examples={train: 16, val: 4, test: 4}")
    train(cfg)
    vocab_size = LlamaConfig.from_pretrained(saved_models["causal"]).vocab_size
    assert near_chance(json.loads((tmp_path / "metrics.json").read_text())["test/loss"], vocab_size)


def test_a_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(GazelmInputError, match="cannot load"):
        build_backbone("causal", name_or_path=str(tmp_path / "no-model"), tokenizer={"train": True}, corpus=TEXTS)


@pytest.mark.parametrize("kind", ["causal", "seq2seq"])
def test_probed_checkpoint_kind_is_read_from_its_config(kind: str, saved_models: dict[str, Path]) -> None:
    from gazelm.attention.study import probe_backbone
    from gazelm.models.backbones import detect_kind

    assert detect_kind(str(saved_models[kind])) == kind
    name, model, _ = probe_backbone({"name_or_path": str(saved_models[kind])}, TEXTS)
    assert name == str(saved_models[kind]) and model.config.is_encoder_decoder == (kind == "seq2seq")
    assert not model.training and model.config._attn_implementation == "eager"

"""`gazelm export`: a training checkpoint becomes a folder that Hugging Face's Auto classes load —
the trained weights exactly, the run's tokenizer, LoRA merged or as an adapter."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

from gazelm.errors import GazelmInputError
from gazelm.export import export_checkpoint
from gazelm.training import train
from tests.helpers.cli import gazelm_subprocess
from tests.helpers.compose import train_config

QUICK = ("debug=limit", "trainer.max_epochs=1", "trainer.limit_train_batches=2", "trainer.limit_val_batches=1",
         "trainer.limit_test_batches=1", "callbacks.generation=null", "model.tokenizer.vocab_size=600",
         "data.source.max_examples={train: 16, val: 4, test: 4}", "optim.lr=0.05", "scheduler.warmup_ratio=0")
CASES = {"tiny_t5": ("model=tiny_t5",), "tiny_causal": ("model=tiny_causal",),
         "tiny_causal_lora": ("model=tiny_causal", "model.lora.enabled=true")}


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory, shared_cache: Path) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("outputs") / "runs"
    for name, overrides in CASES.items():
        train(train_config(root / name, shared_cache, *QUICK, *overrides))
    return {name: root / name / "checkpoints" / "last.ckpt" for name in CASES}


def _trained(checkpoint: Path) -> dict[str, torch.Tensor]:
    return {k.removeprefix("backbone.model."): v for k, v in torch.load(checkpoint, weights_only=True)["state_dict"].items()}


def _check_tokenizer(out: Path, checkpoint: Path) -> AutoTokenizer:
    tok = AutoTokenizer.from_pretrained(out)
    identity = torch.load(checkpoint, weights_only=True)["hyper_parameters"]["backbone"]  # "...|bpe-<sha1 of the tokenizer>"
    assert identity.endswith("bpe-" + hashlib.sha1(tok.backend_tokenizer.to_str().encode()).hexdigest()[:16])
    assert (tok.pad_token, tok.eos_token) == ("<pad>", "</s>")
    return tok


@pytest.mark.parametrize("name,auto", [("tiny_t5", AutoModelForSeq2SeqLM), ("tiny_causal", AutoModelForCausalLM)])
def test_export_loads_with_auto_classes_with_the_trained_weights(name, auto, checkpoints, tmp_path: Path) -> None:
    out = export_checkpoint(checkpoints[name], tmp_path / "out")
    model = auto.from_pretrained(out)
    trained = _trained(checkpoints[name])
    exported = model.state_dict()
    assert trained.keys() <= exported.keys()
    assert all(torch.equal(exported[k], v) for k, v in trained.items())
    _check_tokenizer(out, checkpoints[name])
    step = torch.load(checkpoints[name], weights_only=True)["global_step"]
    assert step > 0 and json.loads((out / "gazelm_export.json").read_text())["global_step"] == step


def test_lora_exports_merged_and_as_an_adapter(checkpoints, tmp_path: Path) -> None:
    checkpoint = checkpoints["tiny_causal_lora"]
    merged_dir = export_checkpoint(checkpoint, tmp_path / "merged", lora="merge")
    adapter_dir = export_checkpoint(checkpoint, tmp_path / "adapter", lora="adapter")
    trained = _trained(checkpoint)
    # the adapter folder holds exactly the trained LoRA tensors; base/ holds the frozen base weights
    adapter = load_file(adapter_dir / "adapter_model.safetensors")
    assert adapter and all(torch.equal(v, trained[k.replace(".weight", ".default.weight")]) for k, v in adapter.items())
    assert any(v.abs().sum() > 0 for k, v in adapter.items() if "lora_B" in k)  # training moved the adapters
    base = AutoModelForCausalLM.from_pretrained(adapter_dir / "base").state_dict()
    frozen = {k.removeprefix("base_model.model.").replace(".base_layer", ""): v for k, v in trained.items()
              if "lora_" not in k}
    assert all(torch.equal(base[k], v) for k, v in frozen.items() if k in base) and len(base) == len(frozen)
    # both folders load with the Auto class (the adapter through transformers' PEFT integration) and agree
    merged, with_adapter = AutoModelForCausalLM.from_pretrained(merged_dir), AutoModelForCausalLM.from_pretrained(adapter_dir)
    assert not any("lora_" in k for k in merged.state_dict()) and any("lora_" in k for k in with_adapter.state_dict())
    tok = _check_tokenizer(merged_dir, checkpoint)
    _check_tokenizer(adapter_dir, checkpoint)
    ids = tok(["def add(a, b):\n    return a + b"], return_tensors="pt").input_ids
    with torch.no_grad():
        torch.testing.assert_close(merged.eval()(ids).logits, with_adapter.eval()(ids).logits, rtol=1e-4, atol=1e-5)
        assert not torch.allclose(merged(ids).logits, AutoModelForCausalLM.from_pretrained(adapter_dir / "base")(ids).logits)


def test_export_refuses_other_targets_and_bad_options(checkpoints, tmp_path: Path) -> None:
    state = torch.load(checkpoints["tiny_causal"], weights_only=True)
    state["gazelm_config"]["model"]["_target_"] = "os.system"
    torch.save(state, tmp_path / "hostile.ckpt")
    with pytest.raises(GazelmInputError, match="refusing to build the model from 'os.system'"):
        export_checkpoint(tmp_path / "hostile.ckpt", tmp_path / "out")
    with pytest.raises(GazelmInputError, match="lora must be one of merge, adapter"):
        export_checkpoint(checkpoints["tiny_causal"], tmp_path / "out", lora="both")


def test_checkpoint_may_be_a_run_directory_or_the_newest_run(checkpoints) -> None:
    from gazelm.export import find_checkpoint

    run = checkpoints["tiny_t5"].parents[1]
    assert find_checkpoint(str(run)) == checkpoints["tiny_t5"]
    newest = max(checkpoints.values(), key=lambda p: p.stat().st_mtime)
    assert find_checkpoint("last", runs_dir=str(run.parents[1])) == newest  # outputs/runs/ holds the three runs


def test_cli(checkpoints, tmp_path: Path, shared_cache: Path) -> None:
    run = checkpoints["tiny_t5"].parents[1]
    result = gazelm_subprocess("export", f"checkpoint={run}", f"out={tmp_path / 'cli'}", cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"exported to {tmp_path / 'cli'}" in result.stdout
    assert AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "cli") is not None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cli"]  # nothing else written in the working directory

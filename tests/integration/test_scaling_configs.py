"""Scaling configs through the real Hydra tree: FSDP (composition, wrap policy, sharded
checkpoints that cannot run code), multi-node as one setting, packing and compile switches."""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from torch import nn

from gazelm.errors import GazelmInputError
from gazelm.checkpoints import read_checkpoint
from gazelm.models.fsdp import DecoderLayerPolicy
from gazelm.training import build_components
from tests.helpers.compose import compose_config, train_config

SMALL = ["model.tokenizer.vocab_size=600", "data.source.max_examples={train: 16, val: 4, test: 4}"]


class Unit(nn.Module):
    """Stands in for FullyShardedDataParallel in torch's own recursive wrap (FSDP needs a GPU)."""

    def __init__(self, module: nn.Module, **kwargs):
        super().__init__()
        self.module = module


def fsdp_units(root: nn.Module, policy) -> list[str]:
    from torch.distributed.fsdp.wrap import _recursive_wrap

    _recursive_wrap(root, policy, Unit, ignored_modules=set(), ignored_params=set(), only_wrap_children=True)
    return [type(m.module).__name__ for m in root.modules() if isinstance(m, Unit)]


@pytest.mark.parametrize(("model", "layer", "count"), [("tiny_causal", "LlamaDecoderLayer", 2),
                                                       ("tiny_t5", "T5Block", 4)])
@pytest.mark.parametrize("lora", [False, True])
def test_fsdp_wraps_each_transformer_block(model: str, layer: str, count: int, lora: bool, tmp_path: Path,
                                           shared_cache: Path) -> None:
    task = "completion" if model == "tiny_causal" else "summarization"
    cfg = train_config(tmp_path, shared_cache, "trainer=fsdp", f"model={model}", f"task={task}",
                       f"model.lora.enabled={str(lora).lower()}", *SMALL)
    strategy = instantiate(cfg.trainer.strategy)
    from lightning.pytorch.strategies import FSDPStrategy

    assert isinstance(strategy, FSDPStrategy)
    assert cfg.trainer.precision == "bf16-mixed" and strategy._state_dict_type == "sharded"
    policy = strategy.kwargs["auto_wrap_policy"]
    assert isinstance(policy, DecoderLayerPolicy)
    _, module = build_components(cfg)
    assert fsdp_units(module, policy) == [layer] * count  # every block, nothing else (the root keeps the rest)


def test_fsdp_on_cpu_is_refused_by_lightning_as_documented(tmp_path: Path, shared_cache: Path) -> None:
    """docs/scaling.md: Lightning's FSDP strategy needs GPUs, so it is not run on CPU processes."""
    cfg = train_config(tmp_path, shared_cache, "trainer=fsdp", "trainer.accelerator=cpu", "trainer.devices=2")
    from hydra.errors import InstantiationException

    with pytest.raises(InstantiationException, match="requires a GPU accelerator"):
        instantiate(cfg.trainer)


def _sharded_checkpoint(directory: Path) -> Path:
    import torch.distributed.checkpoint as dcp

    dcp.save({"model": {"w": torch.randn(3, 2)}}, storage_writer=dcp.FileSystemWriter(str(directory)), no_dist=True)
    torch.save({"epoch": 1, "global_step": 4, "rng_states": {"torch": torch.get_rng_state()}}, directory / "meta.pt")
    return directory


def test_sharded_checkpoint_is_read_with_weights_only(tmp_path: Path) -> None:
    """``ckpt_path=<sharded dir>`` (resume under trainer=fsdp): gazelm's checkpoint reader checks
    the directory and reads its ``meta.pt`` with ``weights_only=True``; Lightning's FSDP loader then
    reads the shards (``weights_only=True`` in torch.distributed.checkpoint)."""
    path = _sharded_checkpoint(tmp_path / "last.ckpt")
    assert read_checkpoint(path)["global_step"] == 4
    plain = tmp_path / "folder"
    plain.mkdir()
    with pytest.raises(GazelmInputError, match="is a directory, not a checkpoint file"):
        read_checkpoint(plain)


class _Exploit:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("payload", ["os.system", "builtins.eval", "metadata class with a hostile argument"])
def test_hostile_sharded_metadata_is_refused_without_running(payload: str, tmp_path: Path) -> None:
    path = _sharded_checkpoint(tmp_path / "last.ckpt")
    marker = tmp_path / "pwned"
    if payload == "os.system":
        data = pickle.dumps(_Exploit(marker))
    elif payload == "builtins.eval":
        data = pickle.dumps(eval)[:-1] + pickle.dumps(f"open({str(marker)!r}, 'w')")[2:-1] + b"\x85R."
    else:  # an allowed class smuggling a forbidden global inside its state
        from torch.distributed.checkpoint.metadata import Metadata

        data = pickle.dumps(Metadata(state_dict_metadata={"x": _Exploit(marker)}))
    (path / ".metadata").write_bytes(data)
    with pytest.raises(GazelmInputError, match="refusing to load this sharded checkpoint"):
        read_checkpoint(path)
    assert not marker.exists()


def test_incomplete_sharded_checkpoint_names_the_missing_file(tmp_path: Path) -> None:
    path = _sharded_checkpoint(tmp_path / "last.ckpt")
    (path / "meta.pt").unlink()
    with pytest.raises(GazelmInputError, match=r"meta\.pt is missing"):
        read_checkpoint(path)


def test_hostile_meta_pt_is_refused(tmp_path: Path) -> None:
    path = _sharded_checkpoint(tmp_path / "last.ckpt")
    marker = tmp_path / "pwned"
    (path / "meta.pt").write_bytes(pickle.dumps(_Exploit(marker)))
    with pytest.raises(GazelmInputError, match="meta.pt"):
        read_checkpoint(path)
    assert not marker.exists()


def test_nodes_are_one_setting_for_lightning_and_slurm() -> None:
    cfg = compose_config(["launcher=submitit_slurm", "trainer=ddp", "trainer.num_nodes=2", "trainer.devices=4"])
    launcher = cfg.hydra.launcher
    assert (launcher.nodes, launcher.tasks_per_node, launcher.gpus_per_node) == (2, 4, 4)
    assert cfg.trainer.num_nodes == 2
    single = compose_config(["launcher=submitit_slurm", "trainer=ddp"])
    assert (single.hydra.launcher.nodes, single.trainer.num_nodes) == (1, 1)


def test_packing_refuses_encoder_decoder_models(tmp_path: Path, shared_cache: Path) -> None:
    cfg = train_config(tmp_path, shared_cache, "model=tiny_t5", "data.packing=true", *SMALL)
    with pytest.raises(GazelmInputError, match="data.packing.*encoder-decoder"):
        build_components(cfg)


def test_packing_refuses_objectives_that_compare_whole_rows(tmp_path: Path, shared_cache: Path) -> None:
    cfg = train_config(tmp_path, shared_cache, "model=tiny_causal", "task=completion", "objective=gaze_preference",
                       "data.packing=true", *SMALL)
    with pytest.raises(GazelmInputError, match="data.packing.*GazePreference"):
        build_components(cfg)


@pytest.mark.parametrize("objective", ["ce", "eyemulator"])
def test_fast_dev_run_with_packing(objective: str, tmp_path: Path, shared_cache: Path) -> None:
    from gazelm.training import train

    seen = []

    class Spy:
        def __init__(self, collate):
            self.collate = collate

        def __call__(self, rows):
            batch = self.collate(rows)
            seen.append(batch)
            return batch

    cfg = train_config(tmp_path, shared_cache, "debug=fdr", "model=tiny_causal", "task=completion",
                       f"objective={objective}", "data.packing=true", "data.batch_size=8", *SMALL)
    datamodule, module = build_components(cfg)
    loader = datamodule.split_loader  # count the training batches that came packed

    def spying_loader(split, train):
        dl = loader(split, train)
        if train:
            dl.collate_fn = Spy(dl.collate_fn)
        return dl

    datamodule.split_loader = spying_loader
    import lightning as L

    trainer = instantiate(cfg.trainer, callbacks=[], logger=False, default_root_dir=str(tmp_path))
    trainer.fit(module, datamodule=datamodule)
    assert seen and all("position_ids" in b for b in seen)
    assert seen[0]["example_index"].numel() == 8 > seen[0]["input_ids"].shape[0]  # 8 examples in fewer rows
    assert isinstance(trainer, L.Trainer) and torch.isfinite(trainer.callback_metrics["val/loss"])


def test_compile_flag_compiles_the_backbone_in_place(tmp_path: Path, shared_cache: Path) -> None:
    cfg = train_config(tmp_path, shared_cache, "model=tiny_causal", "task=completion", "compile={dynamic: true}",
                       *SMALL)
    _, module = build_components(cfg)
    model = module.backbone.model
    assert model._compiled_call_impl is not None  # nn.Module.compile: compiled on first call
    assert "model.embed_tokens.weight" in model.state_dict()  # state-dict keys unchanged (no _orig_mod.)
    plain = train_config(tmp_path, shared_cache, "model=tiny_causal", "task=completion", *SMALL)
    assert build_components(plain)[1].backbone.model._compiled_call_impl is None


@pytest.mark.slow
def test_compiled_backbone_scores_like_eager() -> None:
    """``compile: true`` changes how the model runs, not what it computes (label-only head included)."""
    from gazelm.data.collate import pad_batch
    from tests.unit.test_packing import _random_features, _tiny_llama

    eager = _tiny_llama("sdpa").eval()
    compiled = _tiny_llama("sdpa").eval()
    compiled.compile_model({"dynamic": True})
    batch = pad_batch(_random_features(4, 64), 0)
    with torch.no_grad():
        expected, got = eager(batch, labels=batch["labels"]), compiled(batch, labels=batch["labels"])
    torch.testing.assert_close(got.log_probs, expected.log_probs, rtol=1e-4, atol=1e-5)
    assert torch.equal(got.label_mask, expected.label_mask)

"""Checkpoints: written atomically, read safely, checked against the run that resumes them.

- :class:`AtomicCheckpointIO` (the trainer's ``plugins``) writes every checkpoint to a
  temporary file next to it and renames it into place, so a run killed while saving
  leaves the previous ``last.ckpt`` intact (Lightning's own writer goes through a
  temporary file in ``/tmp`` and a copy).
- :func:`read_checkpoint` loads a file given as ``ckpt_path=`` / ``checkpoint=`` with
  ``weights_only=True`` and turns every way it can be wrong (missing, a directory, empty,
  truncated, not a torch file, a pickle that is not plain data, not a Lightning checkpoint)
  into one :class:`~gazelm.errors.GazelmInputError` line naming the file.
- :class:`RunConfigInCheckpoint` stores the resolved run config in every checkpoint, and
  :func:`check_resumable` compares it and the weights with the run that loads it: a
  config whose model does not fit the weights is an error naming the config keys that
  differ (and the mismatched tensors), other differences are a warning.
- every rank's RNG states are saved and restored (:func:`save_rng_states`), so a resumed run
  draws the same dropout masks.

Resuming a run (``resume=``, ``ckpt_path=``) is :mod:`gazelm.resume`.
"""
from __future__ import annotations

import logging
import pickle
from pathlib import Path
from typing import Any, Mapping

import lightning as L
import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO
from omegaconf import DictConfig, OmegaConf

from gazelm.atomic import atomic_path
from gazelm.errors import GazelmInputError
from gazelm.models.fsdp import is_sharded_checkpoint, read_sharded_checkpoint

log = logging.getLogger(__name__)
CONFIG_KEY = "gazelm_config"
#: config keys that change neither the weights nor what the next step trains on
RUN_ONLY_KEYS = ("paths", "hydra", "ckpt_path", "train", "test", "tags", "logger", "callbacks", "trainer.max_epochs",
                 "trainer.max_steps", "trainer.enable_progress_bar", "trainer.log_every_n_steps", "optimized_metric",
                 "plugins")


class AtomicCheckpointIO(TorchCheckpointIO):
    """``torch.save`` into a unique temporary file beside the target, then an atomic rename."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if "://" in str(path):  # remote file systems: Lightning's own transaction
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        with atomic_path(path) as tmp:
            torch.save(checkpoint, tmp)


def read_checkpoint(path: str | Path, field: str = "ckpt_path") -> dict[str, Any]:
    """The checkpoint at ``path`` (``weights_only=True``, on CPU), or one clear error line."""
    path = Path(path)

    def bad(what: str) -> GazelmInputError:
        return GazelmInputError(what, path=path, field=field)

    if not path.exists():
        raise bad("checkpoint not found")
    if path.is_dir():
        if is_sharded_checkpoint(path):  # trainer=fsdp: checked before Lightning's loader reads it
            return read_sharded_checkpoint(path, field)
        raise bad("is a directory, not a checkpoint file (give <run dir>/checkpoints/last.ckpt, or resume=<run dir>)")
    size = path.stat().st_size
    if size == 0:
        raise bad("checkpoint file is empty (0 bytes)")
    is_zip = False
    try:
        with open(path, "rb") as fh:
            is_zip = fh.read(4) == b"PK\x03\x04"  # torch's format: memory-mapped, nothing read in full
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=is_zip)
    except pickle.UnpicklingError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        if "Weights only load failed" in str(err):
            raise bad("refused: the file holds Python objects other than tensors and plain data "
                      "(checkpoints are loaded with weights_only=True; never unpickle files from others)") from None
        raise bad(f"not a PyTorch checkpoint ({first})") from None
    except Exception as err:  # noqa: BLE001 - torch.load fails in many ways on a file that is not its own
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        if is_zip or isinstance(err, EOFError):
            raise bad(f"checkpoint file is truncated or corrupt ({size} bytes): {first}") from None
        raise bad(f"not a PyTorch checkpoint ({type(err).__name__}: {first})") from None
    if not isinstance(state, dict) or "state_dict" not in state:
        keys = ", ".join(sorted(map(str, state))[:6]) if isinstance(state, dict) else type(state).__name__
        raise bad(f"not a gazelm/Lightning training checkpoint (no 'state_dict'; found {keys or 'nothing'}); "
                  "a Hugging Face model folder is loaded with model.name_or_path=<dir>")
    return state


def _plain(cfg: Any) -> Any:
    return OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else cfg


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """``{"model.config.d_model": 64, ...}`` for a nested dict (lists are leaves)."""
    if not isinstance(tree, Mapping):
        return {prefix: tree}
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        out.update(flatten(value, name) if isinstance(value, Mapping) and value else {name: value})
    return out


def config_differences(saved: Mapping[str, Any], current: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """``key -> (checkpoint's value, this run's value)`` for every differing key that matters."""
    a, b = flatten(saved), flatten(current)
    missing = object()
    diff = {}
    for key in sorted(set(a) | set(b)):
        if any(key == k or key.startswith(k + ".") for k in RUN_ONLY_KEYS):
            continue
        old, new = a.get(key, missing), b.get(key, missing)
        if old != new:
            diff[key] = ("(absent)" if old is missing else old, "(absent)" if new is missing else new)
    return diff


class RunConfigInCheckpoint(L.Callback):
    """Store the resolved run config in each checkpoint (plain data: loads with ``weights_only``)."""

    def __init__(self, cfg: DictConfig):
        self.config = _plain(cfg)

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
        checkpoint[CONFIG_KEY] = self.config


def _tensor_mismatches(saved: Mapping[str, torch.Tensor], current: Mapping[str, torch.Tensor]) -> list[str]:
    lines = []
    for key in sorted(set(saved) | set(current)):
        if key not in current:
            lines.append(f"{key} only in the checkpoint")
        elif key not in saved:
            lines.append(f"{key} missing from the checkpoint")
        elif tuple(saved[key].shape) != tuple(current[key].shape):
            lines.append(f"{key} {list(saved[key].shape)} in the checkpoint vs {list(current[key].shape)} now")
    return lines


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check_resumable(checkpoint: Mapping[str, Any], module: torch.nn.Module, cfg: DictConfig | None,
                    path: str | Path) -> None:
    """Raise if ``module`` cannot take the checkpoint's weights (naming the config keys that differ
    and the first mismatched tensors); warn about other config differences (the resumed run then
    does not continue the interrupted one exactly)."""
    saved_cfg = checkpoint.get(CONFIG_KEY)
    diff = config_differences(saved_cfg, _plain(cfg)) if saved_cfg is not None and cfg is not None else {}
    described = "; ".join(f"{k}: {_show(old)} in the checkpoint's run, {_show(new)} now" for k, (old, new) in diff.items())
    # a sharded checkpoint (trainer=fsdp) keeps its weights in the shards: only the config is compared
    tensors = _tensor_mismatches(checkpoint["state_dict"], module.state_dict()) if "state_dict" in checkpoint else []
    if tensors:
        shown = "; ".join(tensors[:3]) + (f"; … {len(tensors) - 3} more" if len(tensors) > 3 else "")
        because = f"the config differs from the checkpoint's run: {described}" if described else (
            "the model differs (the checkpoint stores no run config to compare)")
        raise GazelmInputError(f"the weights do not fit this model — {because} ({len(tensors)} tensors differ: "
                               f"{shown})", path=path, field="ckpt_path")
    if described:
        log.warning("resuming %s with a config that differs from its run (the continuation is not the "
                    "interrupted run's): %s", path, described)


# -- RNG states (a resumed run draws the same dropout masks on every rank) -----------------------------
def capture_rng_states() -> dict[str, Any]:
    """This process's RNG states as tensors and plain lists (loadable with ``weights_only=True``)."""
    import random

    import numpy as np

    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, state, gauss = random.getstate()
    states: dict[str, Any] = {"torch": torch.get_rng_state(), "python": [version, list(state), gauss],
                              "numpy": [kind, keys.tolist(), pos, has_gauss, cached]}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state()
    return states


def restore_rng_states(states: Mapping[str, Any]) -> None:
    import random

    import numpy as np

    torch.set_rng_state(states["torch"])
    version, state, gauss = states["python"]
    random.setstate((version, tuple(state), gauss))
    kind, keys, pos, has_gauss, cached = states["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state(states["cuda"])


def save_rng_states(checkpoint: dict[str, Any]) -> None:
    """``rng_states`` (this rank) and, under DDP, ``rng_states_per_rank`` (every rank's: the
    checkpoint is assembled on every rank, so the gather is collective)."""
    from gazelm.distributed import process_group_ready

    states = capture_rng_states()
    checkpoint["rng_states"] = states
    if process_group_ready():
        import torch.distributed as dist

        gathered: list[Any] = [None] * dist.get_world_size()
        dist.all_gather_object(gathered, states)
        checkpoint["rng_states_per_rank"] = gathered


def load_rng_states(checkpoint: Mapping[str, Any], rank: int = 0) -> None:
    per_rank = checkpoint.get("rng_states_per_rank") or []
    states = per_rank[rank] if rank < len(per_rank) else checkpoint.get("rng_states")
    if states is not None:
        restore_rng_states(states)

"""``trainer=fsdp``: which modules become FSDP units.

Fully Sharded Data Parallel shards parameters, gradients and optimizer state across ranks and
gathers one *unit* at a time for its forward/backward. The natural unit of a transformer is its
block (decoder layer): small enough to gather, large enough to amortise the communication.
Hugging Face models name their block classes in ``_no_split_modules`` (``LlamaDecoderLayer``,
``Qwen2DecoderLayer``, ``T5Block``, …), so one policy serves every backbone without naming a
model: :class:`DecoderLayerPolicy` reads those names from each model it meets on FSDP's
top-down walk and wraps the modules of those classes below it.
"""
from __future__ import annotations

import pickle
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from torch import nn

from gazelm.errors import GazelmInputError


class DecoderLayerPolicy:
    """FSDP ``auto_wrap_policy`` (the ``(module, recurse, nonwrapped_numel) -> bool`` form):
    wrap every module whose class a Hugging Face model above it lists in ``_no_split_modules``.

    FSDP calls the policy with ``recurse=True`` on a module before visiting its children, so the
    model (which holds ``_no_split_modules``) is always seen before its layers. Layers of no
    model (e.g. a frozen reference copy without the attribute) stay in their parent's unit.
    """

    def __init__(self, extra_classes: list[str] | tuple[str, ...] = ()):
        self.layer_classes: set[str] = set(extra_classes)

    def __call__(self, module: nn.Module, recurse: bool, nonwrapped_numel: int) -> bool:
        if recurse:
            self.layer_classes.update(getattr(module, "_no_split_modules", None) or ())
            return True
        return type(module).__name__ in self.layer_classes

    def __repr__(self) -> str:
        return f"DecoderLayerPolicy({sorted(self.layer_classes)})"


# -- sharded checkpoints ----------------------------------------------------------------------
# A sharded checkpoint is a directory: one ``.distcp`` file of tensors per rank (read by
# torch.distributed.checkpoint with ``weights_only=True``), Lightning's ``meta.pt`` (loops,
# callbacks, RNG states: read with ``weights_only=True``) and DCP's ``.metadata`` index, which
# torch reads with plain ``pickle.load``. gazelm therefore checks ``.metadata`` first with an
# unpickler that only rebuilds DCP's own metadata classes, so no file in the directory can run
# code when the checkpoint is loaded.
DCP_METADATA_CLASSES = {
    "torch.distributed.checkpoint.metadata": {"Metadata", "MetadataIndex", "StorageMeta", "TensorProperties",
                                              "TensorStorageMetadata", "BytesStorageMetadata",
                                              "ChunkStorageMetadata", "_MEM_FORMAT_ENCODING"},
    "torch.distributed.checkpoint.filesystem": {"_StorageInfo"},
    "torch.serialization": {"_get_layout"},
    "torch": {"Size"},
    "pathlib": {"PosixPath", "PurePosixPath", "WindowsPath", "PureWindowsPath"},
    "collections": {"OrderedDict"},
}


class _MetadataUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        import torch

        if name in DCP_METADATA_CLASSES.get(module, ()) or (module == "torch" and isinstance(getattr(torch, name, None),
                                                                                              torch.dtype)):
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not part of a checkpoint's metadata")


def is_sharded_checkpoint(path: str | Path) -> bool:
    return Path(path).is_dir() and (Path(path) / ".metadata").is_file()


def read_sharded_checkpoint(directory: str | Path, field: str = "ckpt_path") -> dict:
    """Lightning's ``meta.pt`` of a sharded checkpoint (``weights_only=True``), once ``.metadata``
    is known to hold nothing but DCP's metadata classes; one
    :class:`~gazelm.errors.GazelmInputError` otherwise. The weights stay in the shards, which
    the FSDP strategy reads (``weights_only=True``) when it loads the checkpoint."""
    import torch

    directory = Path(directory)
    for name in (".metadata", "meta.pt"):
        if not (directory / name).is_file():
            raise GazelmInputError(f"not a sharded checkpoint: {name} is missing", path=directory, field=field)
    try:
        with open(directory / ".metadata", "rb") as fh:
            _MetadataUnpickler(fh).load()
    except (pickle.UnpicklingError, EOFError, AttributeError, ValueError, TypeError) as err:
        raise GazelmInputError(f"refusing to load this sharded checkpoint: {err}", path=directory / ".metadata",
                               field=field) from None
    try:
        return torch.load(directory / "meta.pt", map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise GazelmInputError(f"refusing to load this sharded checkpoint's meta.pt (weights_only=True): "
                               f"{str(err).splitlines()[0]}", path=directory / "meta.pt", field=field) from None


# -- generation under FSDP ----------------------------------------------------------------------
def root_params_gathered(module) -> AbstractContextManager:
    """Within it, the FSDP root unit's own parameters (embeddings, final norm, LM head) are whole,
    so ``generate`` can call the Hugging Face model directly; the decoder-layer units gather
    their shards in their own forward (as TRL generates under FSDP). Without FSDP: a no-op."""
    trainer = getattr(module, "_trainer", None)
    wrapped = getattr(getattr(trainer, "strategy", None), "model", None)
    try:
        from torch.distributed.fsdp import FullyShardedDataParallel as FSDP
    except ImportError:  # pragma: no cover - torch without distributed
        return nullcontext()
    if isinstance(wrapped, FSDP):
        return FSDP.summon_full_params(wrapped, recurse=False, writeback=False)
    return nullcontext()

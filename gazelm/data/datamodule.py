"""The Lightning DataModule: task examples → (gaze) → tokenized, cached → batches."""
from __future__ import annotations

import hashlib
import json
import logging
from functools import partial
from pathlib import Path
from typing import Any, Mapping

from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader

from gazelm.data.collate import pad_batch
from gazelm.data.example import Example
from gazelm.data.features import FeatureTable
from gazelm.data.formatting import TaskFormat
from gazelm.data.packing import pack_batch
from gazelm.data.resumable import ResumableDataModule
from gazelm.data.sources import load_examples
from gazelm.data.tokenize import encode_example
from gazelm.errors import GazelmInputError
from gazelm.gaze.annotation import GazeProvider

log = logging.getLogger(__name__)
STAGE_SPLITS = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",), "predict": ("test",)}


def _plain(value: Any) -> Any:
    return OmegaConf.to_container(value, resolve=True) if isinstance(value, DictConfig) else value


class GazeDataModule(ResumableDataModule):
    """Examples of one task from one source, tokenized for one backbone.

    ``source``: ``{name: <registered source>, **options}``; options may hold per-split
    ``max_examples: {train: N, val: N, test: N}``. ``task``: ``{name, format: {...},
    max_source_length, max_target_length}``. ``gaze``: a provider or ``None``.
    The tokenizer arrives later through :meth:`attach_tokenizer` (a tiny model's
    tokenizer is trained on :meth:`tokenizer_corpus`).
    ``packing`` (causal models): each training batch's examples share rows of up to
    ``pack_length`` tokens (default: the longest training example), each attending only to
    itself (:mod:`gazelm.data.packing`).
    """

    def __init__(self, source: Mapping[str, Any], task: Mapping[str, Any], gaze: GazeProvider | None = None,
                 batch_size: int = 16, eval_batch_size: int | None = None, num_workers: int = 0,
                 length_grouped: bool = True, mega_batch: int = 50, pad_to_multiple_of: int | None = None,
                 cache_dir: str | None = None, seed: int = 0, gaze_key: str | None = None,
                 packing: bool = False, pack_length: int | None = None):
        super().__init__()
        self.source = dict(_plain(source))
        self.task = dict(_plain(task))
        self.gaze = gaze
        self.gaze_key = gaze_key or (repr(_plain(gaze)) if gaze is not None else "none")
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size or batch_size
        self.num_workers, self.length_grouped, self.mega_batch = num_workers, length_grouped, mega_batch
        self.pad_to_multiple_of, self.cache_dir, self.seed = pad_to_multiple_of, cache_dir, seed
        self.packing, self.pack_length = packing, pack_length
        self.format = TaskFormat(**self.task.get("format", {}))
        self.examples: dict[str, list[Example]] = {}
        self.features: dict[str, FeatureTable] = {}
        self.tokenizer = None
        self.causal = False
        self.add_bos = False

    # -- examples -----------------------------------------------------------------------
    def split_examples(self, split: str) -> list[Example]:
        if split not in self.examples:
            options = {k: v for k, v in self.source.items() if k not in ("name", "max_examples")}
            limits = self.source.get("max_examples") or {}
            limit = limits.get(split) if isinstance(limits, dict) else limits
            self.examples[split] = load_examples(self.source["name"], self.task["name"], split,
                                                 max_examples=limit, run_cache_dir=self.cache_dir, **options)
        return self.examples[split]

    @property
    def users(self) -> list[str]:
        """Sorted ids of the people behind the examples (``meta["user"]``) over all splits; a batch's
        ``user_index`` indexes this list. Empty for sources without users."""
        if not hasattr(self, "_users"):
            found = {str(e.meta["user"]) for split in ("train", "val", "test") for e in self.split_examples(split)
                     if "user" in e.meta}
            self._users = sorted(found)
        return self._users

    def tokenizer_corpus(self, split: str = "train") -> list[str]:
        """Texts a locally trained tokenizer learns from: the training split's sources, targets and
        answer strings (``meta["choices"]``, so a tiny tokenizer has every answer letter as one token);
        for a run without training (``train=false``: evaluation-only data such as HumanEval) the
        evaluated split's sources (prompts) only, never its reference solutions."""
        if split == "train":
            return [t for e in self.split_examples("train") for t in (e.source, e.target, *e.meta.get("choices", ()))]
        return [e.source for e in self.split_examples(split)]

    def attach_backbone(self, backbone) -> None:
        """What the data needs from the backbone: its tokenizer (a VLM's DataModule takes its processor)."""
        self.attach_tokenizer(backbone.tokenizer, backbone.is_causal, backbone.add_bos, backbone.identity)

    def attach_tokenizer(self, tokenizer, causal: bool, add_bos: bool = False, identity: str = "") -> None:
        if self.packing and not causal:
            raise GazelmInputError("packing puts several examples in one row of a causal LM; an encoder-decoder "
                                   "model pads its source and target separately (set data.packing=false)",
                                   field="data.packing")
        self.tokenizer, self.causal, self.add_bos = tokenizer, causal, add_bos
        self.tokenizer_identity = identity or getattr(tokenizer, "name_or_path", "") or str(len(tokenizer))

    # -- features -----------------------------------------------------------------------
    def _cache_path(self, split: str) -> Path | None:
        if not self.cache_dir:
            return None
        key = json.dumps({"source": self.source, "task": self.task, "gaze": self.gaze_key, "causal": self.causal,
                          "bos": self.add_bos, "tokenizer": self.tokenizer_identity, "v": 2}, sort_keys=True, default=str)
        digest = hashlib.sha1(key.encode()).hexdigest()[:16]
        return Path(self.cache_dir) / "tokenized" / f"{digest}-{split}.pt"

    def split_features(self, split: str) -> FeatureTable:
        if self.tokenizer is None:
            raise RuntimeError("GazeDataModule.attach_tokenizer(...) must be called before tokenizing")
        if split in self.features:
            return self.features[split]
        path = self._cache_path(split)
        if path is not None and path.exists():
            self.features[split] = FeatureTable.load(path)
            return self.features[split]
        encode = partial(encode_example, tokenizer=self.tokenizer, fmt=self.format, causal=self.causal,
                         max_source_length=self.task.get("max_source_length", 256),
                         max_target_length=self.task.get("max_target_length", 128), gaze=self.gaze,
                         add_bos=self.add_bos)
        rows = []
        examples = self.split_examples(split)
        users = {u: i for i, u in enumerate(self.users)} if any("user" in e.meta for e in examples) else {}
        for i, example in enumerate(examples):
            f = encode(example)
            f["example_index"] = i
            if "user" in example.meta:
                f["user_index"] = users.get(example.meta["user"], -1)
            rows.append(f)
        features = FeatureTable.from_rows(rows)
        if path is not None:
            features.save(path)
        self.features[split] = features
        return features

    def prepare_data(self) -> None:  # once per node: fill the cache of the splits this stage reads
        trainer = getattr(self, "trainer", None)
        stage = trainer.state.fn.value if trainer is not None and trainer.state.fn is not None else None
        for split in STAGE_SPLITS.get(stage, ("train", "val", "test")):
            self.split_features(split)

    def setup(self, stage: str | None = None) -> None:
        for split in STAGE_SPLITS.get(stage or "fit", ("train", "val", "test")):
            self.split_features(split)

    # -- loaders ------------------------------------------------------------------------
    def split_loader(self, split: str, train: bool) -> DataLoader:
        features = self.split_features(split)
        lengths = features.lengths("input_ids")  # encoder-decoder: targets refine the groups (secondary)
        # training batches are shuffled; length_grouped=false makes each batch a random draw
        # (mega-chunks of one batch), evaluation batches are sorted by length
        sampler = self.batch_sampler(lengths.tolist(), train, self.mega_batch if self.length_grouped else 1,
                                     secondary=None if self.causal else features.lengths("labels").tolist())
        collate = partial(pad_batch, pad_token_id=self.tokenizer.pad_token_id,
                          pad_to_multiple_of=self.pad_to_multiple_of)
        if train and self.packing:
            collate = partial(pack_batch, pad_token_id=self.tokenizer.pad_token_id,
                              capacity=self.pack_length or int(lengths.max()), pad_to_multiple_of=self.pad_to_multiple_of)
        return self.data_loader(features, sampler, collate)

    def references(self, split: str) -> list[str]:
        return [e.target for e in self.split_examples(split)]

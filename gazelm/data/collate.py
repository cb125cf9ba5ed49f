"""Batching: dynamic padding, length-grouped (and rank-sharded) batches, step windows."""
from __future__ import annotations

import math
import random
from typing import Any, Iterator, Sequence

import torch

PAD_VALUES = {"labels": -100, "input_weights": 1.0, "label_weights": 1.0, "human_attention": 0.0,
              "source_mask": False, "code_token_mask": False, "gaze_mask": False, "slot_index": -1,
              "gaze_target": 0.0, "slot_mask": False, "option_ids": -1}
FLOAT_KEYS = {"input_weights", "label_weights", "human_attention", "gaze_target"}
BOOL_KEYS = {"source_mask", "code_token_mask", "gaze_mask", "slot_mask"}
SEQUENCE_KEYS = ("input_ids", "labels", "input_weights", "label_weights", "source_mask", "code_token_mask",
                 "gaze_mask", "human_attention", "slot_index", "gaze_target", "slot_mask", "option_ids")
#: per-item keys (one value per slot / option, not per position): always padded on the right
ITEM_KEYS = {"gaze_target", "slot_mask", "option_ids"}
#: one value per example (batched as ``[B]``); ``user_index`` -1 = no user
EXAMPLE_KEYS = ("user_index", "answer_position", "choice_index", "correct_index", "adapt_only")


def pad_batch(features: Sequence[dict[str, Any]], pad_token_id: int, pad_to_multiple_of: int | None = None,
              padding_side: str = "right") -> dict[str, torch.Tensor]:
    """Pad each sequence key to the longest in *this* batch (dynamic padding).

    Rows hold lists or 1-d tensors. ``labels`` of encoder-decoder features have their own
    length; every other key follows ``input_ids``. ``example_index`` identifies rows.
    """
    batch: dict[str, torch.Tensor] = {}
    for key in SEQUENCE_KEYS:
        if key not in features[0]:
            continue
        rows = [torch.as_tensor(f[key]) for f in features]
        length = max(len(r) for r in rows)
        if pad_to_multiple_of:
            length = math.ceil(length / pad_to_multiple_of) * pad_to_multiple_of
        fill = pad_token_id if key == "input_ids" else PAD_VALUES[key]
        dtype = torch.float32 if key in FLOAT_KEYS else torch.bool if key in BOOL_KEYS else torch.long
        out = torch.full((len(rows), length), fill, dtype=dtype)
        for i, r in enumerate(rows):
            if padding_side == "left" and key not in ITEM_KEYS:
                out[i, length - len(r):] = r
            else:
                out[i, :len(r)] = r
        batch[key] = out
    lengths = torch.tensor([len(f["input_ids"]) for f in features])
    positions = torch.arange(batch["input_ids"].shape[1])
    real = positions.unsqueeze(0) < lengths.unsqueeze(1)
    batch["attention_mask"] = (real.flip(1) if padding_side == "left" else real).long()
    batch["example_index"] = torch.tensor([int(f["example_index"]) for f in features], dtype=torch.long)
    for key in EXAMPLE_KEYS:
        if key in features[0]:
            values = torch.tensor([int(f[key]) for f in features], dtype=torch.long)
            batch[key] = values.bool() if key == "adapt_only" else values
    return batch


class LengthGroupedBatchSampler:
    """Batches of similar length, shuffled per epoch, sharded across DDP ranks.

    Indices are shuffled (seed + epoch), cut into mega-chunks of ``mega_batch`` batches,
    each sorted by length (longest first) and cut into batches; batch order is then
    shuffled. With ``shuffle=False`` batches are sorted by length, for fast evaluation.
    Every rank gets the same number of batches (the batch list is padded by repeating
    batches from its start), as ``DistributedSampler`` does.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, *, shuffle: bool = True, seed: int = 0,
                 mega_batch: int = 50, rank: int = 0, world_size: int = 1, drop_last: bool = False):
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self.lengths, self.batch_size, self.shuffle, self.seed = list(lengths), batch_size, shuffle, seed
        self.mega_batch, self.rank, self.world_size, self.drop_last = mega_batch, rank, world_size, drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _batches(self) -> list[list[int]]:
        indices = list(range(len(self.lengths)))
        if not self.shuffle:
            indices.sort(key=lambda i: -self.lengths[i])
            batches = [indices[i:i + self.batch_size] for i in range(0, len(indices), self.batch_size)]
        else:
            rng = random.Random(self.seed + self.epoch)
            rng.shuffle(indices)
            chunk = self.batch_size * self.mega_batch
            batches = []
            for start in range(0, len(indices), chunk):
                part = sorted(indices[start:start + chunk], key=lambda i: -self.lengths[i])
                batches += [part[i:i + self.batch_size] for i in range(0, len(part), self.batch_size)]
            rng.shuffle(batches)
        if self.drop_last:
            batches = [b for b in batches if len(b) == self.batch_size]
        if self.world_size > 1 and batches:
            total = math.ceil(len(batches) / self.world_size) * self.world_size
            batches = (batches * math.ceil(total / len(batches)))[:total]
            batches = batches[self.rank::self.world_size]
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self._batches())

    def __len__(self) -> int:
        return len(self._batches())


def epoch_batch_sampler(datamodule, lengths: Sequence[int], batch_size: int, train: bool,
                        mega_batch: int) -> LengthGroupedBatchSampler:
    """The batch sampler of a DataModule's loader: sharded over the trainer's ranks, shuffled per
    epoch for training (``mega_batch`` 1 = random batches), sorted by length for evaluation."""
    trainer = getattr(datamodule, "trainer", None)
    rank, world = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
    sampler = LengthGroupedBatchSampler(lengths, batch_size, shuffle=train, seed=datamodule.seed,
                                        mega_batch=mega_batch, rank=rank, world_size=world)
    if trainer is not None and train:
        sampler.set_epoch(trainer.current_epoch)
    return sampler


def window_counts(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Counts that normalise a loss over an optimizer step (see ``Objective``).

    ``n_label_tokens`` (labels != -100), ``label_weight_sum``, and what the gaze
    objectives divide by (input code tokens, examples, example-weight sums): one
    definition, in :func:`gazelm.objectives.eyemulator.objective_window_counts`.
    """
    from gazelm.objectives.eyemulator import objective_window_counts

    return objective_window_counts(batch)


class AccumulationWindows:
    """Wrap a train loader: stamp each micro-batch with its optimizer step's totals.

    Reads ``accumulate`` batches ahead (one optimizer step), sums their
    :func:`window_counts` and adds them as ``window_<name>`` to each, so an objective
    can divide a summed loss by the step's total, exactly as one big batch would.
    """

    def __init__(self, loader, accumulate: int = 1):
        self.loader, self.accumulate = loader, max(1, int(accumulate))

    def __len__(self) -> int:
        return len(self.loader)

    @property
    def batch_sampler(self):
        """Exposed so Lightning's per-epoch ``set_epoch`` reaches the sampler."""
        return getattr(self.loader, "batch_sampler", None)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        window: list[dict[str, torch.Tensor]] = []
        for batch in self.loader:
            window.append(batch)
            if len(window) == self.accumulate:
                yield from self._stamp(window)
                window = []
        if window:
            yield from self._stamp(window)

    @staticmethod
    def _stamp(window: list[dict[str, torch.Tensor]]) -> list[dict[str, torch.Tensor]]:
        totals: dict[str, torch.Tensor] = {}
        for batch in window:
            for name, value in window_counts(batch).items():
                totals[name] = totals.get(name, 0) + value.float()
        for batch in window:
            for name, value in totals.items():
                batch[f"window_{name}"] = value
        return window

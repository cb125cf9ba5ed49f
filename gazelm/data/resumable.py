"""What every gazelm DataModule shares: rank-sharded batches and the resumable training loader.

:class:`ResumableDataModule` is the base of :class:`~gazelm.data.datamodule.GazeDataModule` (text
tasks) and :class:`~gazelm.data.visual.VisualDataModule` (interface images). A subclass builds a
split's dataset and collate function (:meth:`ResumableDataModule.split_loader`); the base gives it

- batch samplers sharded over the trainer's ranks (:meth:`batch_sampler`): training batches
  shuffled per epoch, evaluation batches sorted by length;
- the training loader :class:`~gazelm.data.collate.AccumulationWindows`: each micro-batch stamped
  with its optimizer step's totals of the objective's
  :meth:`~gazelm.objectives.base.Objective.window_counts` (:meth:`attach_objective`), and its
  position in the data (epoch, micro-batches consumed) saved with every checkpoint and restored
  on resume (:meth:`state_dict`), so a resumed run sees exactly the batches the uninterrupted run
  would have seen;
- loaders with their own seeded generator (worker seeds do not draw from the global RNG).
"""
from __future__ import annotations

from functools import partial
from typing import Any, Callable, Sequence

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from gazelm.data.collate import AccumulationWindows, LengthGroupedBatchSampler


def training_clock(trainer: L.Trainer) -> tuple[int, int, int | float | None]:
    """The trainer's ``(epoch, micro-batches of it consumed, limit_train_batches)``;
    ``batch_progress.current.ready`` is the count Lightning itself restores and resumes from."""
    return trainer.current_epoch, trainer.fit_loop.epoch_loop.batch_progress.current.ready, trainer.limit_train_batches


class ResumableDataModule(L.LightningDataModule):
    """Base DataModule: subclasses set ``seed``, ``batch_size``, ``eval_batch_size``, ``num_workers``
    and implement :meth:`split_loader`."""

    #: several examples per row (:mod:`gazelm.data.packing`); subclasses that pack set it per instance
    packing: bool = False

    def __init__(self) -> None:
        super().__init__()
        self.window_counts = None  # the objective's counts, summed per optimizer step (attach_objective)
        self._train_loader: AccumulationWindows | None = None
        self._train_position: dict[str, int] | None = None

    def attach_objective(self, objective) -> None:
        """Training batches carry the step totals of ``objective.window_counts`` (exact normalisation)."""
        self.window_counts = objective.window_counts

    # -- loaders ------------------------------------------------------------------------
    def split_loader(self, split: str, train: bool) -> DataLoader:
        """The loader of ``split`` (built with :meth:`batch_sampler` and :meth:`data_loader`)."""
        raise NotImplementedError

    def batch_sampler(self, lengths: Sequence[int], train: bool, mega_batch: int,
                      secondary: Sequence[int] | None = None) -> LengthGroupedBatchSampler:
        """Batches of ``lengths``, sharded over the trainer's ranks: shuffled per epoch for training
        (``mega_batch`` 1 = random batches; the epoch is set by the training loader), sorted by
        length for evaluation."""
        trainer = getattr(self, "trainer", None)
        rank, world = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
        return LengthGroupedBatchSampler(lengths, self.batch_size if train else self.eval_batch_size,
                                         shuffle=train, seed=self.seed, mega_batch=mega_batch, rank=rank,
                                         world_size=world, secondary=secondary)

    def data_loader(self, dataset: Dataset, sampler: LengthGroupedBatchSampler,
                    collate: Callable[[Any], dict[str, torch.Tensor]]) -> DataLoader:
        # the loader's own generator: starting an epoch's iterator draws its worker seed from it, not
        # from the global RNG, so a resumed run's dropout masks are the uninterrupted run's
        return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate, num_workers=self.num_workers,
                          generator=torch.Generator().manual_seed(self.seed), persistent_workers=False)

    def train_dataloader(self) -> AccumulationWindows:
        trainer = getattr(self, "trainer", None)
        accumulate = getattr(trainer, "accumulate_grad_batches", 1)
        clock = partial(training_clock, trainer) if trainer is not None else None
        loader = AccumulationWindows(self.split_loader("train", train=True), accumulate, self.window_counts, clock)
        if self._train_position is not None:
            loader.load_state_dict(self._train_position)
        self._train_loader = loader
        return loader

    def val_dataloader(self) -> DataLoader:
        return self.split_loader("val", train=False)

    def test_dataloader(self) -> DataLoader:
        return self.split_loader("test", train=False)

    # -- checkpoints: where in the training data a resumed run continues ----------------
    def state_dict(self) -> dict[str, Any]:
        return {"train_position": self._train_loader.state_dict()} if self._train_loader is not None else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restored before any loader exists (Lightning restores the DataModule first)."""
        self._train_position = state.get("train_position")
        if self._train_loader is not None and self._train_position is not None:
            self._train_loader.load_state_dict(self._train_position)

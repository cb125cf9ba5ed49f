"""When an evaluator callback runs during validation: one rule for every evaluator."""
from __future__ import annotations

import lightning as L


def evaluates_this_epoch(trainer: L.Trainer, every_n_epochs: int) -> bool:
    """True at the end of a validation epoch (not the sanity check) that is every ``every_n_epochs``-th
    epoch, or the last epoch of a run with ``trainer.max_epochs`` set."""
    if trainer.sanity_checking:
        return False
    last_epoch = trainer.max_epochs is not None and trainer.current_epoch + 1 >= trainer.max_epochs
    return not (trainer.current_epoch + 1) % every_n_epochs or last_epoch

"""The one rule for when evaluator callbacks (generation, alignment, FixATE) run at validation."""
from types import SimpleNamespace

from gazelm.callbacks.schedule import evaluates_this_epoch


def _trainer(epoch: int, max_epochs: int | None, sanity: bool = False) -> SimpleNamespace:
    return SimpleNamespace(current_epoch=epoch, max_epochs=max_epochs, sanity_checking=sanity)


def test_every_n_epochs_and_always_the_last() -> None:
    # every 3 epochs of 7 (epochs counted from 1: 3, 6) and the last one (7)
    assert [e + 1 for e in range(7) if evaluates_this_epoch(_trainer(e, 7), 3)] == [3, 6, 7]
    assert [e + 1 for e in range(5) if evaluates_this_epoch(_trainer(e, None), 2)] == [2, 4]
    assert [e + 1 for e in range(3) if evaluates_this_epoch(_trainer(e, 3), 1)] == [1, 2, 3]


def test_never_during_the_sanity_check() -> None:
    assert not evaluates_this_epoch(_trainer(0, 1, sanity=True), 1)

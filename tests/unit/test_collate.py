from __future__ import annotations

import pytest
import torch

from gazelm.data.collate import AccumulationWindows, LengthGroupedBatchSampler, pad_batch


def _feat(ids, labels, i):
    return {"input_ids": ids, "labels": labels, "input_weights": [2.0] * len(ids), "label_weights": [3.0] * len(labels),
            "source_mask": [True] * len(ids), "example_index": i}


def test_pad_batch_pads_each_key_with_its_own_value() -> None:
    batch = pad_batch([_feat([5, 6, 7], [1], 0), _feat([8], [2, 3], 1)], pad_token_id=0)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"].tolist() == [[1, -100], [2, 3]]
    assert batch["input_weights"].tolist() == [[2.0, 2.0, 2.0], [2.0, 1.0, 1.0]]
    assert batch["label_weights"].tolist() == [[3.0, 1.0], [3.0, 3.0]]
    assert batch["source_mask"].tolist() == [[True, True, True], [True, False, False]]
    assert batch["example_index"].tolist() == [0, 1]


def test_left_padding_for_generation_prompts() -> None:
    batch = pad_batch([{"input_ids": [5, 6, 7], "example_index": 0}, {"input_ids": [8], "example_index": 1}], 0,
                      padding_side="left")
    assert batch["input_ids"].tolist() == [[5, 6, 7], [0, 0, 8]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [0, 0, 1]]


def test_pad_to_multiple_of() -> None:
    batch = pad_batch([_feat([1, 2, 3], [1], 0)], 0, pad_to_multiple_of=4)
    assert batch["input_ids"].shape == (1, 4) and batch["labels"].shape == (1, 4)


def test_length_grouped_batches_cover_every_index_once_and_group_lengths() -> None:
    lengths = [(i * 37) % 101 for i in range(200)]
    sampler = LengthGroupedBatchSampler(lengths, batch_size=8, mega_batch=5, seed=3)
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(200))
    # inside each batch lengths come from one sorted mega-chunk: spread is small vs random batches
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches) / len(batches)
    plain = [list(range(i, i + 8)) for i in range(0, 200, 8)]  # unsorted batches of the same data
    plain_spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in plain) / len(plain)
    assert spread < 25 < 0.5 * plain_spread
    assert list(sampler) == batches  # same epoch, same order
    sampler.set_epoch(1)
    assert list(sampler) != batches


def test_length_grouped_sampler_shards_ranks_evenly_and_disjointly() -> None:
    lengths = list(range(50))
    shards = [list(LengthGroupedBatchSampler(lengths, 4, seed=0, rank=r, world_size=2)) for r in range(2)]
    assert len(shards[0]) == len(shards[1]) == 7  # 13 batches padded to 14
    flat = [i for shard in shards for b in shard for i in b]
    assert set(flat) == set(range(50))


def test_eval_order_is_sorted_by_length() -> None:
    batches = list(LengthGroupedBatchSampler([3, 9, 1, 7], 2, shuffle=False))
    assert batches == [[1, 3], [0, 2]]


def test_accumulation_windows_stamp_step_totals() -> None:
    def b(n_active, weight):
        labels = torch.full((1, 4), -100)
        labels[0, :n_active] = 1
        return {"labels": labels, "label_weights": torch.full((1, 4), weight)}

    loader = [b(1, 2.0), b(3, 1.0), b(2, 5.0)]
    def counts(batch):
        active = batch["labels"] != -100
        return {"n_label_tokens": active.sum(), "label_weight_sum": (batch["label_weights"] * active).sum()}

    out = list(AccumulationWindows(loader, accumulate=2, counts=counts))
    assert [float(x["window_n_label_tokens"]) for x in out] == [4.0, 4.0, 2.0]
    assert [float(x["window_label_weight_sum"]) for x in out] == [5.0, 5.0, 10.0]


def test_datamodule_without_length_grouping_still_shuffles(tmp_path) -> None:
    """data.length_grouped=false: random training batches (not the evaluation's sorted order)."""
    from gazelm.data.datamodule import GazeDataModule
    from tests.helpers.tokenizers import word_tokenizer

    stdlib = tmp_path / "lib"
    stdlib.mkdir()
    body = "def f{i}(x):\n    \"\"\"Return the value of x here.\"\"\"\n" + "    y = x\n" * 1 + "{extra}    return y\n"
    (stdlib / "mod.py").write_text("\n".join(body.format(i=i, extra="    y = y\n" * (i % 7)) for i in range(64)))
    source = {"name": "python_stdlib", "stdlib_dir": str(stdlib), "min_lines": 3, "val_percent": 0, "test_percent": 0}
    task = {"name": "summarization", "max_source_length": 64, "max_target_length": 16}
    for grouped in (True, False):
        dm = GazeDataModule(source, task, batch_size=4, length_grouped=grouped)
        dm.attach_tokenizer(word_tokenizer(["def", "return", "y", "x"]), causal=False)
        batches = list(dm.train_dataloader().loader.batch_sampler)
        firsts = [dm.split_features("train").lengths("input_ids")[b[0]].item() for b in batches]
        assert sorted(i for b in batches for i in b) == list(range(64))
        assert firsts != sorted(firsts, reverse=True)  # shuffled batch order either way


def test_secondary_lengths_group_targets_too() -> None:
    """Encoder-decoder batches: sources of similar length and, inside that, targets of similar
    length — fewer padded positions (source + target) than grouping by their sum."""
    import random

    rng = random.Random(0)
    src = [rng.randint(10, 200) for _ in range(800)]
    tgt = [rng.randint(2, 48) for _ in range(800)]

    def padded(batches):
        return sum(len(b) * (max(src[i] for i in b) + max(tgt[i] for i in b)) for b in batches)

    two_level = list(LengthGroupedBatchSampler(src, 16, seed=1, mega_batch=10, secondary=tgt))
    by_sum = list(LengthGroupedBatchSampler([a + b for a, b in zip(src, tgt)], 16, seed=1, mega_batch=10))
    assert sorted(i for b in two_level for i in b) == list(range(800))
    assert padded(two_level) < 0.95 * padded(by_sum)


def test_table_batches_collate_like_rows() -> None:
    """The DataLoader hands ``FeatureTable.__getitems__`` (one gather per column) to the
    collators; the batch equals the one built row by row, padded and packed."""
    from torch.utils.data import DataLoader

    from gazelm.data.features import FeatureTable
    from gazelm.data.packing import pack_batch

    rows = [{"input_ids": list(range(1, 2 + i % 5)), "labels": [-100] + list(range(2, 2 + i % 5)),
             "input_weights": [1.0 + i] * (1 + i % 5), "label_weights": [2.0] * (1 + i % 5),
             "source_mask": [True] * (1 + i % 5), "n_prompt": 1, "example_index": i} for i in range(12)]
    table = FeatureTable.from_rows(rows)
    picked = [3, 0, 7, 11]
    for collate in (lambda f: pad_batch(f, 0), lambda f: pad_batch(f, 0, padding_side="left"),
                    lambda f: pack_batch(f, 0, capacity=6)):
        vectorised, by_row = collate(table.__getitems__(picked)), collate([table[i] for i in picked])
        assert vectorised.keys() == by_row.keys()
        assert all(torch.equal(vectorised[k], by_row[k]) for k in by_row)
    loader = DataLoader(table, batch_sampler=[picked], collate_fn=lambda f: (type(f).__name__, pad_batch(f, 0)))
    kind, batch = next(iter(loader))
    assert kind == "FeatureRows" and batch["example_index"].tolist() == picked


# -- resuming mid-epoch ------------------------------------------------------------------------------------
LENGTHS = [3, 9, 1, 7, 4, 4, 2, 8, 5, 6, 1, 2, 9, 3, 7, 5, 2, 6, 8, 4, 3, 1]  # 22 examples, batches of 2 → 11


class FakeTrainer:
    """The trainer's side of the clock: its epoch, the micro-batches consumed, limit_train_batches."""

    def __init__(self, epoch: int = 0, limit=None):
        self.epoch, self.consumed, self.limit = epoch, 0, limit

    def clock(self):
        return self.epoch, self.consumed, self.limit


def train_loader(trainer: FakeTrainer, accumulate: int = 3) -> AccumulationWindows:
    from torch.utils.data import DataLoader

    features = [_feat(list(range(1, n + 1)), [1] * n, i) for i, n in enumerate(LENGTHS)]
    sampler = LengthGroupedBatchSampler(LENGTHS, 2, shuffle=True, seed=7, mega_batch=2)
    loader = DataLoader(features, batch_sampler=sampler, collate_fn=lambda rows: pad_batch(rows, 0))
    return AccumulationWindows(loader, accumulate, lambda b: {"n": (b["labels"] != -100).sum()}, trainer.clock)


def run_epoch(loader: AccumulationWindows, trainer: FakeTrainer) -> list[tuple[list[int], float]]:
    seen = []
    for batch in loader:  # the trainer consumes a batch, then a checkpoint could be written
        trainer.consumed += 1
        seen.append((batch["example_index"].tolist(), float(batch["window_n"])))
    return seen


def test_epochs_are_reshuffled_through_the_trainer_clock() -> None:
    trainer = FakeTrainer()
    loader = train_loader(trainer)
    first = run_epoch(loader, trainer)
    trainer.epoch, trainer.consumed = 1, 0
    second = run_epoch(loader, trainer)
    assert sorted(i for b, _ in first for i in b) == sorted(i for b, _ in second for i in b) == list(range(22))
    assert [b for b, _ in first] != [b for b, _ in second]


@pytest.mark.parametrize("limit", [None, 8], ids=["whole-epoch", "limit_train_batches=8"])
def test_resuming_after_any_micro_batch_continues_the_same_batches_and_windows(limit) -> None:
    trainer = FakeTrainer(epoch=1, limit=limit)
    loader = train_loader(trainer)
    states, full = [], []
    for batch in loader:
        trainer.consumed += 1
        full.append((batch["example_index"].tolist(), float(batch["window_n"])))
        states.append(loader.state_dict())
    per_epoch = limit or 11
    assert len(full) == per_epoch
    # window totals: the last window of a limited epoch stops at the limit
    sizes = [sum(LENGTHS[i] for i in b) for b, _ in full]
    assert [w for _, w in full] == [float(sum(sizes[s - s % 3:min(s - s % 3 + 3, per_epoch)])) for s in range(per_epoch)]
    assert states[-1]["epoch"] == 2 and states[-1]["batches"] == 0  # a finished epoch resumes at the next one
    for k, state in enumerate(states[:-1], start=1):  # killed after micro-batch k (mid-window too)
        assert (state["epoch"], state["batches"]) == (1, k)
        resumed_trainer = FakeTrainer(epoch=0, limit=limit)  # the loader starts before the trainer is restored
        resumed = train_loader(resumed_trainer)
        resumed.load_state_dict(state)
        resumed_trainer.consumed = k
        assert run_epoch(resumed, resumed_trainer) == full[k:]
        resumed_trainer.epoch, resumed_trainer.consumed = 2, 0  # the next epoch starts from its beginning
        assert len(run_epoch(resumed, resumed_trainer)) == per_epoch


def test_without_a_clock_the_position_counts_the_batches_handed_out() -> None:
    loader = AccumulationWindows([{"labels": torch.ones(1, 2)} for _ in range(7)], accumulate=3)
    it = iter(loader)
    for _ in range(5):
        next(it)
    assert loader.state_dict()["batches"] == 5
    resumed = AccumulationWindows([{"labels": torch.full((1, 2), float(i))} for i in range(7)], accumulate=3)
    resumed.load_state_dict(loader.state_dict())
    assert [int(b["labels"][0, 0]) for b in resumed] == [5, 6]

from __future__ import annotations

from pathlib import Path

import torch

from gazelm.data.collate import pad_batch
from gazelm.data.features import FeatureTable

ROWS = [
    {"input_ids": [5, 6, 7], "labels": [1], "input_weights": [1.0, 4.5, 1.0], "gaze_mask": [False, True, False],
     "n_prompt": 3, "example_index": 0},
    {"input_ids": [8], "labels": [2, 3], "input_weights": [2.0], "gaze_mask": [True], "n_prompt": 1,
     "example_index": 1},
]


def test_round_trip_through_the_cache_file(tmp_path: Path) -> None:
    table = FeatureTable.from_rows(ROWS)
    table.save(tmp_path / "t.pt")
    loaded = FeatureTable.load(tmp_path / "t.pt")
    assert len(loaded) == 2
    assert loaded.lengths("input_ids").tolist() == [3, 1] and loaded.lengths("labels").tolist() == [1, 2]
    row = loaded[1]
    assert row["input_ids"].tolist() == [8] and row["labels"].tolist() == [2, 3]
    assert row["input_weights"].dtype == torch.float32 and row["gaze_mask"].dtype == torch.bool
    assert (row["n_prompt"], row["example_index"]) == (1, 1)
    assert loaded[-1]["labels"].tolist() == [2, 3]


def test_tensor_rows_pad_like_list_rows() -> None:
    table = FeatureTable.from_rows(ROWS)
    from_tensors = pad_batch([table[0], table[1]], pad_token_id=0)
    from_lists = pad_batch(ROWS, pad_token_id=0)
    assert from_tensors.keys() == from_lists.keys()
    for key in from_lists:
        assert torch.equal(from_tensors[key], from_lists[key]), key

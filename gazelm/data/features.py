"""Tokenized features of one split stored as flat tensors (fast to cache and to load).

Each sequence key is one concatenated tensor plus row offsets; ``table[i]`` returns the
row as a dict of tensor views (no copy). Saved with ``torch.save`` and loaded with
``weights_only=True``: a cached split loads in milliseconds instead of unpickling
millions of Python ints.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Sequence

import torch

from gazelm.atomic import atomic_path
from gazelm.data.collate import BOOL_KEYS, EXAMPLE_KEYS, FLOAT_KEYS, SEQUENCE_KEYS, positions_within

SCALAR_KEYS = ("n_prompt", "example_index")  # every row has them; EXAMPLE_KEYS only where a source sets them


class FeatureTable(Sequence[dict[str, Any]]):
    """Rows of features; ``packed`` maps ``key`` → flat tensor and ``key@offsets`` → [n+1]."""

    def __init__(self, packed: dict[str, torch.Tensor]):
        self.packed = packed
        self.keys = [k for k in SEQUENCE_KEYS if k in packed]
        for i, key in enumerate(self.keys):  # keys laid out alike share one offsets tensor (one gather a batch)
            same = next((packed[f"{k}@offsets"] for k in self.keys[:i]
                         if torch.equal(packed[f"{k}@offsets"], packed[f"{key}@offsets"])), None)
            if same is not None:
                packed[f"{key}@offsets"] = same
        self.scalars = [k for k in (*SCALAR_KEYS, *EXAMPLE_KEYS) if k in packed]
        self._n = len(packed["n_prompt"])

    @classmethod
    def from_rows(cls, rows: Sequence[dict[str, Any]]) -> "FeatureTable":
        packed: dict[str, torch.Tensor] = {}
        for key in SEQUENCE_KEYS:
            if not rows or key not in rows[0]:
                continue
            missing = [i for i, r in enumerate(rows) if key not in r]
            if missing:
                raise ValueError(f"feature {key!r} is missing in rows {missing[:5]}")
            dtype = torch.float32 if key in FLOAT_KEYS else torch.bool if key in BOOL_KEYS else torch.long
            lengths = torch.tensor([len(r[key]) for r in rows], dtype=torch.long)
            packed[key] = torch.tensor([v for r in rows for v in r[key]], dtype=dtype)
            packed[f"{key}@offsets"] = torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)])
        for key in SCALAR_KEYS:
            packed[key] = torch.tensor([int(r[key]) for r in rows], dtype=torch.long)
        for key in EXAMPLE_KEYS:
            if rows and key in rows[0]:
                packed[key] = torch.tensor([int(r.get(key, -1)) for r in rows], dtype=torch.long)
        return cls(packed)

    def __len__(self) -> int:
        return self._n

    def lengths(self, key: str) -> torch.Tensor:
        offsets = self.packed[f"{key}@offsets"]
        return offsets[1:] - offsets[:-1]

    def __getitem__(self, i: int) -> dict[str, Any]:  # type: ignore[override]
        if not -self._n <= i < self._n:
            raise IndexError(i)
        i %= self._n
        row: dict[str, Any] = {k: int(self.packed[k][i]) for k in self.scalars}
        for key in self.keys:
            offsets = self.packed[f"{key}@offsets"]
            row[key] = self.packed[key][offsets[i]:offsets[i + 1]]
        return row

    def __getitems__(self, indices: Sequence[int]) -> "FeatureRows":
        """A batch of rows for the collators (``DataLoader`` calls this with a batch's indices)."""
        return FeatureRows(self, torch.as_tensor(list(indices), dtype=torch.long))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (self[i] for i in range(self._n))

    def save(self, path: str | Path) -> None:
        with atomic_path(path) as tmp:
            torch.save(self.packed, tmp)

    @classmethod
    def load(cls, path: str | Path) -> "FeatureTable":
        return cls(torch.load(path, weights_only=True))


class FeatureRows:
    """Some rows of a :class:`FeatureTable`, read column by column with one gather each
    (``pad_batch`` / ``pack_batch`` accept it wherever they accept a list of rows)."""

    def __init__(self, table: FeatureTable, indices: torch.Tensor):
        self.table, self.indices = table, indices
        self._gathers: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.table[int(self.indices[i])]

    def column(self, key: str) -> tuple[torch.Tensor, torch.Tensor] | None:
        """All the rows' ``key`` values concatenated, and each row's length."""
        if key not in self.table.keys:
            return None
        gather, lengths = self._gather(self.table.packed[f"{key}@offsets"])
        return self.table.packed[key][gather], lengths

    def _gather(self, offsets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Flat positions of the rows' values, computed once per distinct offsets table."""
        key = id(offsets)
        if key not in self._gathers:
            starts = offsets[self.indices]
            lengths = offsets[self.indices + 1] - starts
            self._gathers[key] = torch.repeat_interleave(starts, lengths) + positions_within(lengths), lengths
        return self._gathers[key]

    def scalar(self, key: str) -> torch.Tensor | None:
        """The rows' value of a per-example key, or ``None`` where the table has none."""
        return self.table.packed[key][self.indices] if key in self.table.packed else None

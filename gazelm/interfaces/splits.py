"""FixATE's splits, reproduced exactly.

- RecGaze, **content-disjoint** (``preprocessing/recgaze/build_dataset.py``): screens 1–30
  (free browsing) and 31–35 (semi-free) are split by screen with ``random.Random(seed)``:
  test = 5 free + 1 semi-free screens, validation = 3 free + 1 semi-free of the rest, train =
  the other 25; every session on a screen is in that screen's split (1,921 / 311 / 469
  sessions on FixATE's full data with seed 42). Screens outside 1–35 (direct search) are
  not split by FixATE; here they go to train.
- AdSERP, **per user** (``train_fixate_adserp.py``): each user's trials are shuffled with
  ``numpy.random.RandomState(seed)`` and ``round(0.20·n)`` (at least 1, never all) go to
  test; of the rest, ``round(0.15·n)`` with ``RandomState(seed + 1000)`` go to validation.
  Each user does each query once, so the split is query-disjoint within a user.
"""
from __future__ import annotations

import random
from collections import defaultdict
from typing import Sequence

import numpy as np

FREE_BROWSING = tuple(range(1, 31))
SEMI_FREE = tuple(range(31, 36))


def screen_split(seed: int = 42, test: tuple[int, int] = (5, 1), val: tuple[int, int] = (3, 1)) -> dict[int, str]:
    """RecGaze screen id → split (FixATE's ``run_fixate``)."""
    rng = random.Random(seed)
    free, semi = list(FREE_BROWSING), list(SEMI_FREE)
    test_screens = sorted(rng.sample(free, test[0])) + sorted(rng.sample(semi, test[1]))
    free_rest = [t for t in free if t not in test_screens]
    semi_rest = [t for t in semi if t not in test_screens]
    val_screens = sorted(rng.sample(free_rest, val[0])) + sorted(rng.sample(semi_rest, val[1]))
    return {t: "test" if t in test_screens else "val" if t in val_screens else "train" for t in free + semi}


def _hold_out(indices_by_user: dict[str, list[int]], ratio: float, rng: np.random.RandomState
              ) -> tuple[list[int], list[int]]:
    kept, held = [], []
    for idxs in indices_by_user.values():
        arr = np.array(idxs)
        rng.shuffle(arr)
        if len(arr) == 1:
            kept.append(int(arr[0]))
            continue
        k = min(max(1, int(round(ratio * len(arr)))), len(arr) - 1)
        held.extend(int(x) for x in arr[:k])
        kept.extend(int(x) for x in arr[k:])
    return kept, held


def per_user_split(users: Sequence[str], seed: int = 42, test_ratio: float = 0.20, val_ratio: float = 0.15
                   ) -> list[str]:
    """Split of each item (``users[i]`` is item ``i``'s user), FixATE's AdSERP procedure."""
    by_user: dict[str, list[int]] = defaultdict(list)
    for i, user in enumerate(users):
        by_user[user].append(i)
    train, test = _hold_out(by_user, test_ratio, np.random.RandomState(seed))
    by_user = defaultdict(list)
    for i in train:
        by_user[users[i]].append(i)
    train, val = _hold_out(by_user, val_ratio, np.random.RandomState(seed + 1000))
    out = ["train"] * len(users)
    for i in test:
        out[i] = "test"
    for i in val:
        out[i] = "val"
    return out

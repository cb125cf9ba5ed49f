"""Two processes filling the same cache entries at the same time: no error, every entry readable.

Each process walks the same sequence of fresh cache keys through the real code paths (the
tokenizer cache, the stdlib index, tokenized features, priors), so for every entry both find
it missing, both write it, and each may read what the other wrote.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import torch

from tests.conftest import ROOT

ROUNDS = 40


def worker(root: str, rounds: int) -> None:
    """One writer: wait for the start signal, then fill ``rounds`` fresh entries of each cache."""
    from gazelm.data.features import FeatureTable
    from gazelm.data.sources.python_stdlib import _collect
    from gazelm.data.tokenizer_training import train_bpe_tokenizer
    from gazelm.gaze.priors import GazePriors, LabelBeta, load_priors, save_priors

    base = Path(root)
    while not (base / "go").exists():
        time.sleep(0.001)
    for i in range(rounds):
        texts = [f"def f{i}(x): return x + {i}", "the quick brown fox"] * 3
        tok = train_bpe_tokenizer(texts, vocab_size=300, min_frequency=1, cache_dir=base / "tokenizers")
        assert tok("quick").input_ids
        rows = _collect.__wrapped__(str(base / "lib"), 2, 10 + i, str(base / "stdlib"))
        assert len(rows) == 1
        features = base / "tokenized" / f"{i}.pt"
        if features.exists():
            assert FeatureTable.load(features)[0]["input_ids"].tolist() == list(range(i + 3))
        FeatureTable.from_rows([{"input_ids": list(range(i + 3)), "n_prompt": 1, "example_index": 0}]).save(features)
        save_priors(GazePriors({"loop": LabelBeta("loop", i, 100, i + 1, 101 - i)}, {("loop",): i + 1}), base / "priors")
        assert load_priors(base / "priors").betas["loop"].total == 100


def test_two_processes_fill_the_same_cache_entries(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "mod.py").write_text('def f(x):\n    """Return the value of x here."""\n    y = x\n    return y\n')
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    code = f"from tests.integration.test_shared_cache import worker; worker({str(tmp_path)!r}, {ROUNDS})"
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    time.sleep(3)  # both imported and waiting
    (tmp_path / "go").touch()
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    assert not list(tmp_path.rglob("*.tmp"))  # no temporary file left behind
    assert len(list((tmp_path / "tokenizers").glob("bpe-*.json"))) == ROUNDS
    assert len(list((tmp_path / "stdlib").glob("python_stdlib-*.jsonl"))) == ROUNDS
    last = torch.load(tmp_path / "tokenized" / f"{ROUNDS - 1}.pt", weights_only=True)
    assert last["input_ids"].tolist() == list(range(ROUNDS + 2))

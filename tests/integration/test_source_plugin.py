"""Adding a data source is one module + one YAML (issue 11): a toy source from a package outside the
repository, named through ``plugins=[...]`` and a ``data`` option found on ``hydra.searchpath``,
trains with ``debug=fdr`` through the real configs, and the run reads its examples (its options
from the YAML included)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from gazelm.training import train
from tests.helpers.compose import train_config
from tests.helpers.plugins import user_package

FILES = {
    "gz_toy_source.py": '''
        """Toy functions `def add_<n>(x)` summarised as "Add <n> to x." (train 0.., val 100.., test 200..)."""
        from gazelm.data.example import Example
        from gazelm.data.sources import register_source
        from gazelm.data.sources.common import check_split, check_task, limit

        @register_source("gz_toy_adders")
        def load(task, split, count=8, max_examples=None):
            check_task("gz_toy_adders", task, ("summarization",))
            check_split(split)
            first = {"train": 0, "val": 100, "test": 200}[split]
            return limit([Example(id=f"add_{n}", task=task, source=f"def add_{n}(x):\\n    return x + {n}\\n",
                                  target=f"Add {n} to x.", source_language="python", target_language="text")
                          for n in range(first, first + count)], max_examples)
    ''',
    "conf/data/gz_toy.yaml": '''
        defaults: [python_stdlib, _self_]   # the DataModule settings of a shipped option
        source: {name: gz_toy_adders, count: 12}
    ''',
}


def test_source_from_a_user_package_trains_through_the_real_configs(tmp_path: Path, shared_cache: Path) -> None:
    package = user_package(tmp_path / "pkg", FILES)
    with package.imported():
        cfg = train_config(tmp_path / "run", shared_cache, "debug=fdr", "data=gz_toy", "plugins=[gz_toy_source]",
                           package.searchpath, "model.tokenizer.vocab_size=300")
        assert (cfg.data.source.name, cfg.data.source.count, cfg.data.batch_size) == ("gz_toy_adders", 12, 32)
        train(cfg)
    for split, first in (("val", 100), ("test", 200)):  # debug=fdr: the first 4 examples of each split are scored
        rows = [json.loads(line) for line in (tmp_path / "run" / "predictions" / f"{split}_step1.jsonl").open()]
        assert sorted((r["id"], r["reference"]) for r in rows) == [(f"add_{n}", f"Add {n} to x.")
                                                                   for n in range(first, first + 4)]


def test_without_the_plugin_the_source_is_unknown(tmp_path: Path, shared_cache: Path) -> None:
    from gazelm.errors import GazelmInputError
    from gazelm.registry import UnknownNameError

    package = user_package(tmp_path / "pkg", FILES)  # importable, but not named under plugins
    cfg = train_config(tmp_path / "run", shared_cache, "debug=fdr", "data=gz_toy", package.searchpath)
    with package.imported(), pytest.raises((UnknownNameError, GazelmInputError),
                                           match="unknown (task )?source 'gz_toy_adders'; known: codexglue_java_cs"):
        train(cfg)

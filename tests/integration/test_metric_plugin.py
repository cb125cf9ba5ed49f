"""Adding a metric is one module (issue 11): a toy metric in a package outside the repository, named
by its dotted module path through ``plugins=[...]``, scores a predictions file through ``gazelm eval``
(a subprocess: a Hydra app), which prints its exact value; without the plugin the name is unknown, in
one clear line."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.cli import gazelm_subprocess
from tests.helpers.plugins import user_package

FILES = {"gz_toy_lab/metrics.py": '''
    from gazelm.metrics import MetricResult, register_metric

    @register_metric("gz_toy_length_ratio", higher_is_better=False)
    def length_ratio(predictions, references):
        """Mean of len(prediction) / len(reference), per example."""
        per = [len(p) / max(1, len(r)) for p, r in zip(predictions, references)]
        return MetricResult(sum(per) / len(per), per)
'''}
ROWS = [{"id": "a", "prediction": "ab", "reference": "abcd"}, {"id": "b", "prediction": "abcd", "reference": "abcd"},
        {"id": "c", "prediction": "abcdef", "reference": "abcd"}]


@pytest.fixture
def predictions(tmp_path: Path) -> Path:
    path = tmp_path / "P.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    return path


def test_metric_from_a_user_package_scores_through_gazelm_eval(tmp_path: Path, predictions: Path) -> None:
    package = user_package(tmp_path / "pkg", FILES)
    out = tmp_path / "out"
    r = gazelm_subprocess("eval", f"predictions={predictions}", "metrics=[gz_toy_length_ratio,exact_match]",
                          "plugins=[gz_toy_lab.metrics]", f"hydra.run.dir={out}", env=package.env())
    assert r.returncode == 0, r.stderr
    # (2/4 + 4/4 + 6/4) / 3 = 1.0; exact match 1 of 3
    assert json.loads(r.stdout.strip().splitlines()[-1]) == {"gz_toy_length_ratio": 1.0, "exact_match": 1 / 3}
    rows = [json.loads(line) for line in (out / "predictions.jsonl").open()]
    assert [row["scores"]["gz_toy_length_ratio"] for row in rows] == [0.5, 1.0, 1.5]


def test_without_the_plugin_the_metric_is_unknown(tmp_path: Path, predictions: Path) -> None:
    package = user_package(tmp_path / "pkg", FILES)  # importable, but not named under plugins
    r = gazelm_subprocess("eval", f"predictions={predictions}", "metrics=[gz_toy_length_ratio]",
                          f"hydra.run.dir={tmp_path / 'out'}", env=package.env())
    assert r.returncode == 2
    assert r.stderr.startswith("gazelm eval: error: unknown metric 'gz_toy_length_ratio'; known: ")
    assert r.stderr.count("\n") == 1

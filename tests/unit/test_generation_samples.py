"""GenerationEvaluator: n samples per example, the data source's stop sequences, references by kind."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from gazelm.callbacks.generation import GenerationEvaluator, truncate
from gazelm.data.example import Example
from gazelm.errors import GazelmInputError
from gazelm.metrics import MetricResult, register_metric

SEEN: dict[str, list] = {}


@register_metric("test_sample_counts", higher_is_better=True, samples=True, reference="task_id")
def _sample_counts(predictions, references):
    SEEN["predictions"], SEEN["references"] = predictions, references
    per = [float(len(p)) for p in predictions]
    return MetricResult(sum(per) / len(per), per)


class FakeModule:
    """Returns, for each prompt, ``num_return_sequences`` completions that run past the function."""

    def __init__(self):
        self.backbone = SimpleNamespace(is_causal=True)
        self.training = False

    def eval(self):
        return self

    def train(self, mode=True):
        return self

    def generate(self, input_ids, attention_mask, num_return_sequences=1, **kwargs):
        return [f"    return {int(row[-1])}_{s}\n\n\ndef check():\n    pass" for row in input_ids
                for s in range(num_return_sequences)]

    def log(self, *args, **kwargs):
        pass


def _trainer(tmp_path: Path, source: str) -> SimpleNamespace:
    examples = [Example(id=f"HumanEval/{i}", task="generation", source="p", target="t", source_language="python",
                        target_language="python") for i in range(3)]
    features = [{"input_ids": torch.tensor([1, 2, 10 + i]), "n_prompt": 3} for i in range(3)]
    dm = SimpleNamespace(split_features=lambda split: features, split_examples=lambda split: examples,
                         tokenizer=SimpleNamespace(pad_token_id=0), source={"name": source})
    return SimpleNamespace(global_rank=0, world_size=1, is_global_zero=True, datamodule=dm,
                           default_root_dir=str(tmp_path), global_step=7)


def test_samples_are_grouped_truncated_and_scored_against_task_ids(tmp_path: Path) -> None:
    evaluator = GenerationEvaluator(metrics=["test_sample_counts"], batch_size=2,
                                    generation={"num_return_sequences": 2, "do_sample": True})
    metrics = evaluator.evaluate(_trainer(tmp_path, "humaneval"), FakeModule(), "test")
    assert metrics == {"test_sample_counts": 2.0}
    assert SEEN["references"] == ["HumanEval/0", "HumanEval/1", "HumanEval/2"]
    assert SEEN["predictions"][1] == ["    return 11_0\n\n", "    return 11_1\n\n"]  # cut at HumanEval's "\ndef"
    rows = [json.loads(line) for line in (tmp_path / "predictions" / "test_step7.jsonl").read_text().splitlines()]
    assert rows[0]["prediction"] == ["    return 10_0\n\n", "    return 10_1\n\n"]


def test_other_sources_keep_the_whole_completion(tmp_path: Path) -> None:
    evaluator = GenerationEvaluator(metrics=["test_sample_counts"], generation={"num_return_sequences": 1})
    evaluator.evaluate(_trainer(tmp_path, "python_stdlib"), FakeModule(), "test")
    assert SEEN["predictions"][0] == "    return 10_0\n\n\ndef check():\n    pass"
    evaluator = GenerationEvaluator(metrics=["test_sample_counts"], stop=["return"])
    evaluator.evaluate(_trainer(tmp_path, "humaneval"), FakeModule(), "test")
    assert SEEN["predictions"][0] == "    "
    assert truncate("a\nclass X\ndef", ["\ndef", "\nclass"]) == "a"


@pytest.mark.parametrize("generation,metrics,message", [
    ({"num_return_sequences": 4}, ["test_sample_counts"], "need sampling"),
    ({"num_return_sequences": 4, "do_sample": True}, ["bleu_sacre", "test_sample_counts"],
     "bleu_sacre score.s. one prediction per example"),
    ({"num_return_sequences": 0}, ["test_sample_counts"], "at least 1"),
])
def test_samples_need_sampling_and_metrics_that_take_them(generation, metrics, message) -> None:
    with pytest.raises(GazelmInputError, match=message):
        GenerationEvaluator(metrics=metrics, generation=generation)

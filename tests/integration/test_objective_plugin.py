"""Adding an objective with its own denominator is one module + one YAML (issue 11).

The recipe of docs/objectives.md ("Adding an objective"): its module and YAML, written outside
the repository, and its ``gazelm train`` line, run in-process through the real configs. The
logged loss is checked against the formula, computed independently (Hugging Face logits,
``F.cross_entropy``) on the batch the step trained on, and the denominator is the count the
objective declared, stamped on the batch by the training loader.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from gazelm.models.module import GazeLM
from gazelm.training import train
from tests.helpers.compose import train_config
from tests.helpers.docs import commands, page_files
from tests.helpers.plugins import user_package
from tests.conftest import ROOT

DOC = ROOT / "docs" / "objectives.md"


def recipe() -> tuple[dict[str, str], list[str]]:
    """The page's files of the recipe and its ``gazelm train … objective=sequence_nll`` line."""
    files = {path: text for path, text in page_files(DOC).items() if path.startswith("mylab/")}
    (line,) = [c for c in commands(DOC) if c[:2] == ["gazelm", "train"] and "objective=sequence_nll" in c]
    return files, line


def sequence_nll(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Σ over the label tokens of −log P, divided by the examples (a causal model: logits at t score t+1)."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    nll = F.cross_entropy(logits[:, :-1].flatten(0, 1).double(), batch["labels"][:, 1:].flatten(), reduction="sum")
    return nll / batch["input_ids"].shape[0]


def test_the_recipe_is_one_module_and_one_yaml() -> None:
    files, line = recipe()
    assert sorted(files) == ["mylab/conf/objective/sequence_nll.yaml", "mylab/objectives.py"]
    assert "plugins=" not in " ".join(line)  # the YAML's _target_ imports the module


def test_objective_from_a_user_package_trains_with_its_own_denominator(tmp_path: Path, shared_cache: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    files, line = recipe()
    package = user_package(tmp_path / "work", files)
    monkeypatch.chdir(package.root)  # the line's file://mylab/conf is relative to the working directory
    steps: list[tuple[dict[str, torch.Tensor], float]] = []
    training_step = GazeLM.training_step

    def recording_step(module: GazeLM, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        with torch.no_grad():
            steps.append(({k: v.clone() for k, v in batch.items()}, float(sequence_nll(module.backbone.model, batch))))
        return training_step(module, batch, batch_idx)

    monkeypatch.setattr(GazeLM, "training_step", recording_step)
    with package.imported():
        cfg = train_config(tmp_path / "run", shared_cache, *line[2:], "model.tokenizer.vocab_size=600",
                           "data.source.max_examples={train: 16, val: 4, test: 4}")
        assert cfg.objective._target_ == "mylab.objectives.SequenceNLL"
        train(cfg)
    [(batch, expected)] = steps  # debug=fdr: one training step
    examples = batch["input_ids"].shape[0]
    assert batch["window_n_sequences"].item() == examples  # the loader stamped the objective's own count
    assert (batch["labels"] != -100).sum() > examples      # so a per-token mean would differ
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["train/loss"] == pytest.approx(expected, rel=1e-5)
    n_tokens = (batch["labels"][:, 1:] != -100).sum().item()
    assert metrics["train/ce"] == pytest.approx(expected * examples / n_tokens, rel=1e-5)

"""Configs are checked before anything is built or trained (``gazelm.preflight``), on the real configs."""
from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch

from gazelm.errors import GazelmInputError
from gazelm.objectives.tokens import IGNORE_INDEX
from gazelm.preflight import GAZE_CHECK_BATCHES, check_gaze_signal, config_problems, gaze_problem
from gazelm.training import build_components, train
from tests.helpers.compose import compose_config, train_config

TINY = ["model.tokenizer.vocab_size=600", "data.source.max_examples={train: 32, val: 8, test: 8}"]
SUMMARIZATION_METRICS = ["smoothed_bleu4", "rouge_l", "meteor", "bleu_sacre"]


def problems(*overrides: str) -> list[str]:
    return config_problems(compose_config(list(overrides)))


@pytest.mark.parametrize("task,source,languages,metrics", [
    ("translation", "codexglue_java_cs", ("java", "c_sharp"),
     ["bleu_codexglue", "exact_match_codexglue", "codebleu", "chrf"]),
    ("completion", "python_stdlib", ("python", "python"),
     ["exact_match", "containment_exact", "h_exact", "codebleu", "edit_similarity"]),
    ("summarization", "python_stdlib", ("python", "text"), SUMMARIZATION_METRICS),
])
def test_each_task_brings_its_data_languages_and_metrics(task, source, languages, metrics, data_dir: Path) -> None:
    # `-m task=translation,completion,summarization` composes three valid jobs
    cfg = compose_config([f"task={task}", f"paths.data_dir={data_dir}"])
    assert cfg.data.source.name == source
    assert (cfg.task.source_language, cfg.task.target_language) == languages
    assert list(cfg.callbacks.generation.metrics) == metrics
    assert config_problems(cfg) == []


@pytest.mark.parametrize("overrides", [["task=translation", "data=eyemulator_jsonl"],
                                       ["experiment=eyemulator_ablation", "task=translation"],
                                       ["task=translation", "experiment=eyemulator_ablation"]])
def test_explicit_or_experiment_data_wins_over_the_task_default(overrides: list[str]) -> None:
    cfg = compose_config(overrides)
    assert cfg.data.source.name == "eyemulator_jsonl" and cfg.task.target_language == "c_sharp"


def test_languages_follow_the_data_source() -> None:
    cfg = compose_config(["task=translation", "data.source.direction=cs_java"])
    assert (cfg.task.source_language, cfg.task.target_language) == ("c_sharp", "java")
    assert compose_config(["task=completion", "data=eyemulator_jsonl"]).task.target_language == "java"


def test_a_metric_that_cannot_score_the_target_language_is_refused_when_composed() -> None:
    assert problems("task=summarization", "callbacks.generation.metrics=[rouge_l,codebleu]") == [
        "metric 'codebleu' cannot score task=summarization targets in language 'text' "
        "(it applies to java, python, c_sharp); remove it from task.metrics (or callbacks.generation.metrics)"]


def test_ablation_experiment_scores_summarization_with_summarization_metrics(data_dir: Path) -> None:
    cfg = compose_config(["experiment=eyemulator_ablation", "task=summarization", "+ablation=eyemulator",
                          f"paths.data_dir={data_dir}"])
    assert list(cfg.callbacks.generation.metrics) == SUMMARIZATION_METRICS
    assert config_problems(cfg) == []


def test_a_source_without_the_task_is_refused() -> None:
    assert problems("task=translation", "data=python_stdlib") == [
        "data: source 'python_stdlib' has no 'translation' task (it provides: summarization, completion, "
        "generation); drop the data= override to use task=translation's default data, or pick a source that has it"]


def test_a_gaze_objective_without_gaze_is_refused_unless_allowed() -> None:
    found = problems("objective=eyemulator")
    assert len(found) == 1 and "gaze=none" in found[0] and "gaze=eyemulator_priors" in found[0]
    assert problems("objective=eyemulator", "allow_unweighted=true") == []
    assert problems("objective=eyemulator", "gaze=eyemulator_priors") == []


def test_objective_and_backbone_kind_must_fit() -> None:
    assert problems("objective=gaze_preference", "gaze=eyemulator_priors") == [
        "objective: GazePreference with these options needs a causal model (model.kind=seq2seq)"]
    assert problems("objective=ce", "objective.loss_on=both", "model=tiny_causal") == []


def test_train_refuses_a_bad_config_before_building_anything(tmp_path: Path, shared_cache: Path) -> None:
    cfg = train_config(tmp_path, shared_cache, "debug=fdr", "callbacks.generation.metrics=[codebleu]", *TINY)
    with pytest.raises(GazelmInputError, match="codebleu' cannot score task=summarization"):
        train(cfg)
    assert list(tmp_path.iterdir()) == []


# -- silent degeneration: gaze values that are the same everywhere ------------------------------
def test_eyemulator_that_would_train_plain_ce_stops_before_training(tmp_path: Path, shared_cache: Path) -> None:
    # the paper's per-token weights on a natural-language target: no target token has a gaze weight
    cfg = train_config(tmp_path, shared_cache, "debug=fdr", "task=summarization", "objective=eyemulator",
                       "objective.scope=token", "gaze=eyemulator_priors", *TINY)
    with pytest.raises(GazelmInputError, match=r"every gaze weight on the loss positions is 1, so the loss is a "
                                               r"multiple of plain cross-entropy; set objective.scope=example .* or "
                                               r"objective.loss_on=both .*allow_unweighted=true"):
        train(cfg)
    assert not (tmp_path / "csv").exists() and not (tmp_path / "metrics.json").exists()
    cfg.allow_unweighted = True
    datamodule, module = build_components(cfg)
    check_gaze_signal(cfg, datamodule, module.objective)  # allowed on purpose: no error


def _objective_and_batches(cfg) -> tuple[object, list[dict]]:
    datamodule, module = build_components(cfg)
    return module.objective, list(itertools.islice(datamodule.train_dataloader(), GAZE_CHECK_BATCHES))


@pytest.mark.parametrize("task", ["translation", "completion", "summarization"])
def test_every_ablation_arm_differs_from_ce_on_every_task(task: str, tmp_path: Path, shared_cache: Path,
                                                          data_dir: Path) -> None:
    base = ["experiment=eyemulator_ablation", f"task={task}", f"paths.data_dir={data_dir}", *TINY]
    arms = str(compose_config(base).hydra.sweeper.params["+ablation"]).split(",")
    assert arms[0] == "ce" and len(arms) == 7
    weights = {}
    for arm in arms:
        objective, batches = _objective_and_batches(train_config(tmp_path, shared_cache, *base, f"+ablation={arm}"))
        assert objective.loss_on == "both"  # every arm, CE included, has a loss on the same positions
        if arm == "ce":
            assert not objective.uses_gaze
            continue
        assert gaze_problem(objective, batches) is None, arm
        weights[arm] = [w[labels != IGNORE_INDEX] for labels, w in map(objective._positions, batches)]
        values = torch.cat(weights[arm])
        assert values.min() < values.max(), arm  # not a constant: not a multiple of the CE arm's loss
    for arm in arms[2:]:  # each ablation is a different weighting from EyeMulator's own
        assert any(not torch.equal(a, b) for a, b in zip(weights[arm], weights["eyemulator"])), arm

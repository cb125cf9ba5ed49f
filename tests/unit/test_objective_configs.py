"""The shipped objective configs, composed as ``gazelm train`` composes them, build the classes
they name with the documented defaults."""
from __future__ import annotations

import pytest
from hydra.utils import instantiate

from gazelm.objectives.eyemulator import EyeMulator
from gazelm.objectives.preference import GazePreference
from gazelm.objectives.reward import RewardSFT
from gazelm.objectives.rewards import AttentionMotifReward, SelfCriticalReward
from tests.helpers.compose import compose_config


def build(name: str, overrides: list[str] | None = None, task: str = "translation"):
    cfg = compose_config([f"objective={name}", f"task={task}", *(f"objective.{o}" for o in overrides or [])])
    return instantiate(cfg.objective)


def test_eyemulator_defaults_are_the_paper_formula_on_code_targets():
    objective = build("eyemulator")
    assert isinstance(objective, EyeMulator)
    assert (objective.scope, objective.loss_on, objective.normalize) == ("token", "target", "active_tokens")
    assert build("eyemulator", ["scope=example", "reduce=mean"]).reduce == "mean"


def test_eyemulator_auto_scope_weights_text_targets_per_example():
    # a summary has no code tokens: per-token weights would all be 1 (plain CE), so auto takes
    # the example weight of the source code; loss_on=both keeps per-token weights on the input
    assert build("eyemulator", task="summarization").scope == "example"
    assert build("eyemulator", ["loss_on=both"], task="summarization").scope == "token"
    assert build("eyemulator", ["scope=token"], task="summarization").scope == "token"


def test_reward_sft_defaults_and_reward_switch():
    objective = build("reward_sft")
    assert isinstance(objective, RewardSFT) and isinstance(objective.reward, AttentionMotifReward)
    assert objective.needs == {"attentions"} and objective.reward.layers == [-1]
    switched = build("reward_sft", ["reward=codebleu", "reward_options.codebleu.lang=python"])
    assert isinstance(switched.reward, SelfCriticalReward)
    assert (switched.reward.metric, switched.reward.lang, switched.needs) == ("codebleu", "python", frozenset())


def test_gaze_preference_defaults():
    objective = build("gaze_preference")
    assert isinstance(objective, GazePreference) and isinstance(objective.sft, EyeMulator)
    assert (objective.gamma, objective.beta) == (0.1, 0.1)


def test_bad_option_fails_at_build_time():
    with pytest.raises(Exception, match="unknown loss_on"):
        build("eyemulator", ["loss_on=prompt"])

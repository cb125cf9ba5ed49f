"""The shipped objective configs build the classes they name, with the documented defaults."""
from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from gazelm.objectives.eyemulator import EyeMulator
from gazelm.objectives.preference import GazePreference
from gazelm.objectives.reward import RewardSFT
from gazelm.objectives.rewards import AttentionMotifReward, SelfCriticalReward

CONF = Path(__file__).resolve().parents[2] / "conf" / "objective"


def build(name: str, overrides: list[str] | None = None):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return instantiate(compose(config_name=name, overrides=overrides or []))


def test_eyemulator_defaults_are_the_paper_formula():
    objective = build("eyemulator")
    assert isinstance(objective, EyeMulator)
    assert (objective.scope, objective.loss_on, objective.normalize) == ("token", "target", "active_tokens")
    assert build("eyemulator", ["scope=example", "reduce=mean"]).reduce == "mean"


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

"""Config values checked against their target's annotations and the types of their defaults."""
from __future__ import annotations

from pathlib import Path
from typing import Literal, Mapping, Optional, Sequence, Union

import pytest

from gazelm.config_types import accepts, check_config_types, describe
from gazelm.errors import GazelmInputError
from tests.helpers.compose import compose_config


@pytest.mark.parametrize("annotation,value,expected", [
    (Optional[int], 3, True), (Optional[int], None, True), (Optional[int], "abc", False), (int, True, False),
    (int, 2.5, False), (float, 2, True), (float, "1e-4", False), (bool, 1, False), (str, 3, False),
    (Union[int, float, None], 0.5, True), (Literal["a", "b"], "c", False), (Literal[16, "16"], 16, True),
    (Sequence[str], ["a"], True), (Sequence[str], 3, False), (Mapping[str, int], "x", False),
    (Path, "a/b", None), (Union[str, Path], "a", True),
])
def test_accepts(annotation, value, expected) -> None:
    assert accepts(annotation, value) is expected


def test_describe() -> None:
    assert describe(Optional[int]) == "an integer or null"
    assert describe(Union[Literal[16, 32], Literal["bf16"], None]) == "one of 16, 32, 'bf16' or null"


@pytest.mark.parametrize("overrides,expected", [
    (["trainer.max_epochs=abc"], "field 'trainer.max_epochs': expected an integer or null, got 'abc'"),
    (["optim.lr=abc"], "field 'optim.lr': expected a number or Tensor, got 'abc'"),  # torch.optim.AdamW's lr
    (["model.config.d_model=1.5"], "field 'model.config.d_model': expected an integer (like its default 128), got 1.5"),
    (["trainer.precision=bf17"], "field 'trainer.precision': expected one of 64, 32, 16, 'transformer-engine'"),
    (["seed=abc", "data.batch_size=x"], "wrongly typed config values: 'data.batch_size': expected an integer, "
                                         "got 'x'; 'seed': expected an integer (like its default 0), got 'abc'"),
])
def test_wrongly_typed_overrides_name_key_and_type(overrides: list[str], expected: str, tmp_path: Path) -> None:
    cfg = compose_config(overrides, output_dir=tmp_path)
    with pytest.raises(GazelmInputError) as err:
        check_config_types(cfg, overrides)
    assert str(err.value).startswith(expected)


def test_well_typed_overrides_pass(tmp_path: Path) -> None:
    overrides = ["trainer.max_epochs=5", "optim.lr=1", "seed=7", "trainer.precision=bf16-mixed", "model=tiny_causal"]
    check_config_types(compose_config(overrides, output_dir=tmp_path), overrides)

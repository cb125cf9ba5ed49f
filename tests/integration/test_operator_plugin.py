"""Adding an operator is one module + one YAML, both outside the repository (issue 11).

The module is imported through ``plugins:``, the YAML found through ``hydra.searchpath``; the
operator then runs through ``gazelm align`` (its config composed, the CLI's ``run`` in-process) and is
selectable for the training callback.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hydra.utils import instantiate

from gazelm.errors import GazelmInputError
from tests.helpers.compose import compose_config
from tests.helpers.plugins import UserPackage, user_package

TINY = "models=[{name: tiny, tiny: {vocab_size: 300, hidden_size: 16, layers: 1}}]"
FILES = {
    # relevance = position ** power on the real tokens
    "gz_toy_ops.py": '''
        import torch
        from gazelm.attention.operators import register_operator
        from gazelm.attention.target import Target

        @register_operator("gz_toy_position")
        def position(model, input_ids, attention_mask=None, target=Target(), *, power=1.0, **_):
            mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask
            return (mask.cumsum(1) * mask).float() ** power
    ''',
    "conf/operator/gz_toy.yaml": '''
        _target_: gazelm.attention.probe.OperatorSpec
        name: gz_toy_position
        stage: reading
        params: {power: 2.0}
    ''',
}


@pytest.fixture
def toy_operator(tmp_path: Path) -> UserPackage:
    return user_package(tmp_path / "pkg", FILES)


def test_plugin_operator_runs_through_gazelm_align(toy_operator: UserPackage, data_dir: Path, tmp_path: Path,
                                                   capsys) -> None:
    from gazelm.cli.align import run

    out = tmp_path / "run"
    with toy_operator.imported():
        run(compose_config(["max_prompts=2", "ks=[2]", toy_operator.searchpath, "plugins=[gz_toy_ops]",
                            "operators=[gz_toy,rollout]", TINY], config_name="align", output_dir=out))
    r = capsys.readouterr()
    rows = [json.loads(line) for line in (out / "attention.jsonl").read_text().splitlines()]
    toy = [r for r in rows if r["method"] == "gz_toy"]
    assert len(toy) == 2 and {r["method"] for r in rows} == {"gz_toy", "rollout"}
    for row in toy:  # position ** 2 on every real token, in order
        assert [score for _, score in row["tokens"]] == [float(i * i) for i in range(1, len(row["tokens"]) + 1)]
    assert f"output directory: {out}" in r.out
    assert "gz_toy on tiny: 2/2 prompts (100%)" in r.err  # plain progress lines off a terminal


def test_plugin_operator_is_selectable_for_the_training_callback(toy_operator: UserPackage, tmp_path: Path) -> None:
    from gazelm.registry import import_plugins

    with toy_operator.imported():
        import_plugins(["gz_toy_ops"])
        cfg = compose_config(["callbacks=alignment", toy_operator.searchpath,
                              "operator@callbacks.alignment.operator=gz_toy"], output_dir=tmp_path)
        callback = instantiate(cfg.callbacks.alignment)
    assert (callback.spec.name, callback.spec.params) == ("gz_toy_position", {"power": 2.0})


def test_unknown_operator_option_is_named(tmp_path):
    from gazelm.attention.study import compose_operator

    with pytest.raises(GazelmInputError, match="field 'operators'.*no operator config 'nope'"):
        compose_operator("nope")


def test_operator_config_naming_an_unregistered_operator_is_one_line(tmp_path):
    from hydra import initialize_config_dir

    from gazelm.attention.study import compose_operator

    (tmp_path / "operator").mkdir()
    (tmp_path / "operator" / "ghost.yaml").write_text("_target_: gazelm.attention.probe.OperatorSpec\n"
                                                      "name: gz_not_imported\n")
    (tmp_path / "operator" / "bare.yaml").write_text("name: rollout\n")
    with initialize_config_dir(config_dir=str(tmp_path), version_base="1.3"):
        with pytest.raises(GazelmInputError) as err:
            compose_operator("ghost")
        assert "operator config 'ghost': unknown attention operator 'gz_not_imported'" in str(err.value)
        assert "\n" not in str(err.value)
        with pytest.raises(GazelmInputError, match="'bare' has no `_target_`"):
            compose_operator("bare")

"""Adding an operator is one module + one YAML, both outside the repository (issue 11).

The module is imported through ``plugins:``, the YAML found through ``hydra.searchpath``; the
operator then runs through ``gazelm align`` and is selectable for the training callback.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hydra.utils import instantiate

from gazelm.errors import GazelmInputError
from gazelm.registry import import_plugins
from tests.helpers.compose import compose_config

ROOT = Path(__file__).resolve().parents[2]
TINY = "models=[{name: tiny, tiny: {vocab_size: 300, hidden_size: 16, layers: 1}}]"


@pytest.fixture
def toy_operator(tmp_path):
    """``gz_toy_ops.py`` registers ``gz_toy_position`` (relevance = position ** power on real tokens);
    ``conf/operator/gz_toy.yaml`` configures it with power 2."""
    (tmp_path / "gz_toy_ops.py").write_text(textwrap.dedent('''
        import torch
        from gazelm.attention.operators import register_operator
        from gazelm.attention.target import Target

        @register_operator("gz_toy_position")
        def position(model, input_ids, attention_mask=None, target=Target(), *, power=1.0, **_):
            mask = torch.ones_like(input_ids) if attention_mask is None else attention_mask
            return (mask.cumsum(1) * mask).float() ** power
    '''))
    conf = tmp_path / "conf" / "operator"
    conf.mkdir(parents=True)
    (conf / "gz_toy.yaml").write_text(textwrap.dedent('''
        _target_: gazelm.attention.probe.OperatorSpec
        name: gz_toy_position
        stage: reading
        params: {power: 2.0}
    '''))
    return tmp_path


def test_plugin_operator_runs_through_gazelm_align(toy_operator, data_dir, tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(toy_operator), str(ROOT)])}
    proc = subprocess.run([sys.executable, "-m", "gazelm.cli.main", "align", "max_prompts=2", "ks=[2]",
                           f"hydra.searchpath=[file://{toy_operator / 'conf'}]", "plugins=[gz_toy_ops]",
                           "operators=[gz_toy,rollout]", TINY, f"hydra.run.dir={out}"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in (out / "attention.jsonl").read_text().splitlines()]
    toy = [r for r in rows if r["method"] == "gz_toy"]
    assert len(toy) == 2 and {r["method"] for r in rows} == {"gz_toy", "rollout"}
    for row in toy:  # position ** 2 on every real token, in order
        assert [score for _, score in row["tokens"]] == [float(i * i) for i in range(1, len(row["tokens"]) + 1)]
    assert f"output directory: {out}" in proc.stdout
    assert "gz_toy on tiny: 2/2 prompts (100%)" in proc.stderr  # plain progress lines when piped


def test_plugin_operator_is_selectable_for_the_training_callback(toy_operator, tmp_path):
    sys.path.insert(0, str(toy_operator))
    try:
        import_plugins(["gz_toy_ops"])
        cfg = compose_config(["callbacks=alignment", f"hydra.searchpath=[file://{toy_operator / 'conf'}]",
                              "operator@callbacks.alignment.operator=gz_toy"], output_dir=tmp_path)
        callback = instantiate(cfg.callbacks.alignment)
    finally:
        sys.path.remove(str(toy_operator))
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

"""Every documented ``gazelm eval`` form for checkpoints and models, and a hostile run folder.

A run folder is made the way ``gazelm train`` leaves one (``.hydra/config.yaml`` unresolved,
``checkpoints/last.ckpt`` with the module's ``state_dict``), without spending time on training.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import lightning as L
import pytest
import torch
from omegaconf import OmegaConf

from tests.helpers.cli import checkout_env, gazelm_subprocess
from tests.helpers.compose import train_config

pytestmark = pytest.mark.slow
ENV = checkout_env(PYTHONHASHSEED="0")  # codebleu's data-flow match depends on it


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory, shared_cache: Path) -> Path:
    from gazelm.training import build_components

    root = tmp_path_factory.mktemp("run")
    cfg = train_config(root, shared_cache, "model.tokenizer.vocab_size=600",
                       "data.source.max_examples={train: 32, val: 4, test: 4}")
    L.seed_everything(0, verbose=False)
    _, module = build_components(cfg)
    (root / ".hydra").mkdir()
    OmegaConf.save(cfg, root / ".hydra" / "config.yaml")
    (root / "checkpoints").mkdir()
    torch.save({"state_dict": module.state_dict()}, root / "checkpoints" / "last.ckpt")
    return root


def _rows(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "predictions" / "test_step0.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("form", ["after --", "overrides=[...]"])
def test_checkpoint_with_training_overrides(form: str, run_folder: Path, tmp_path: Path) -> None:
    ckpt = run_folder / "checkpoints" / "last.ckpt"
    args = ["eval", f"checkpoint={ckpt}", "metrics=[exact_match,bleu_sacre]", "generation.max_new_tokens=4",
            f"hydra.run.dir={tmp_path}"]
    args += ["--", "data.source.max_examples.test=2"] if form == "after --" else \
        ['overrides=["data.source.max_examples.test=2"]']
    res = gazelm_subprocess(*args, env=ENV)
    assert res.returncode == 0, res.stderr[-3000:]
    assert set(json.loads(res.stdout.strip().splitlines()[-1])) >= {"exact_match", "bleu_sacre"}
    assert len(_rows(tmp_path)) == 2  # the override applied (the run's config says 4)


def test_checkpoint_override_that_does_not_apply_is_an_error(run_folder: Path, tmp_path: Path) -> None:
    res = gazelm_subprocess("eval", f"checkpoint={run_folder / 'checkpoints' / 'last.ckpt'}",
                            f"hydra.run.dir={tmp_path}", "--", "data.source.max_exampels.test=2", env=ENV)
    assert res.returncode == 2 and "has no key 'data.source.max_exampels.test'" in res.stderr
    assert "Traceback" not in res.stderr


def test_hostile_run_folder_is_refused(run_folder: Path, tmp_path: Path) -> None:
    hostile = tmp_path / "hostile"
    shutil.copytree(run_folder, hostile)
    (tmp_path / "secret").write_text("s3cret")
    cfg = OmegaConf.load(hostile / ".hydra" / "config.yaml")
    cfg.objective = {"_target_": "shutil.copyfile", "src": str(tmp_path / "secret"), "dst": str(tmp_path / "stolen")}
    OmegaConf.save(cfg, hostile / ".hydra" / "config.yaml")
    res = gazelm_subprocess("eval", f"checkpoint={hostile / 'checkpoints' / 'last.ckpt'}",
                            f"hydra.run.dir={tmp_path / 'e1'}", env=ENV)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "refusing to rebuild this run" in res.stderr and "objective._target_: shutil.copyfile" in res.stderr
    assert not (tmp_path / "stolen").exists()
    # the explicit trust flag is the only way through (and then the folder's code runs)
    res = gazelm_subprocess("eval", f"checkpoint={hostile / 'checkpoints' / 'last.ckpt'}", "trust_run_config=true",
                            f"hydra.run.dir={tmp_path / 'e2'}", env=ENV)
    assert (tmp_path / "stolen").read_text() == "s3cret" and res.returncode != 0


def test_model_mode_pass_at_k_end_to_end(tmp_path: Path, shared_cache: Path, sandbox) -> None:
    """A Hugging Face model folder → n samples per HumanEval problem → pass@k, from the command line."""
    from gazelm.training import build_components
    cfg = train_config(tmp_path / "build", shared_cache, "model=tiny_causal", "data=humaneval", "task=generation",
                       "train=false", "model.tokenizer.vocab_size=600")
    _, module = build_components(cfg)
    model_dir = tmp_path / "tiny-model"
    module.backbone.model.save_pretrained(model_dir)
    module.backbone.tokenizer.save_pretrained(model_dir)
    res = gazelm_subprocess("eval", f"pretrained={model_dir}", "metrics=[pass_at_k]", "metric_options={k: [1, 2]}",
                            "generation.num_return_sequences=2", "generation.do_sample=true",
                            "generation.max_new_tokens=8", f"hydra.run.dir={tmp_path / 'eval'}", "--",
                            "task=generation", "data=humaneval", "data.source.max_examples.test=3",
                            f"paths.cache_dir={shared_cache}", env=ENV)
    assert res.returncode == 0, res.stderr[-3000:]
    metrics = json.loads(res.stdout.strip().splitlines()[-1])
    assert set(metrics) == {"loss", "pass_at_k", "pass_at_k/pass@1", "pass_at_k/pass@2"}
    assert 0.0 <= metrics["pass_at_k/pass@1"] <= metrics["pass_at_k/pass@2"] <= 1.0
    rows = _rows(tmp_path / "eval")
    assert [r["id"] for r in rows] == ["HumanEval/0", "HumanEval/1", "HumanEval/2"]
    assert all(isinstance(r["prediction"], list) and len(r["prediction"]) == 2 for r in rows)

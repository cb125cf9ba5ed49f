"""FixATE on visual interfaces: the experiments' real configs with the tiny VLMs on SYNTHETIC studies.

The soft prompts are the only thing that trains, gradients reach the prompt through the relevance
over image patches, the optimisation lowers the training KL, and both experiments run end to end.
"""
from __future__ import annotations

import json

import pytest
import torch

from gazelm.training import build_components, train
from tests.helpers.compose import train_config
from tests.helpers.studies import adserp_folder, recgaze_folder

STUDY = {"recgaze": recgaze_folder, "adserp": adserp_folder}


def experiment(study, tmp_path, shared_cache, data_dir, *overrides):
    root, _ = STUDY[study](shared_cache, data_dir)
    return train_config(tmp_path, shared_cache, f"experiment=fixate_{study}", f"data.source.path={root}", *overrides)


def first_batch(dm):
    dm.prepare_data()
    dm.setup("fit")
    return next(iter(dm.train_dataloader()))


@pytest.mark.parametrize("operator", ["rollout", "glimpse_fixate", "attnlrp_fixate"])
def test_only_the_soft_prompts_train(operator, tmp_path, shared_cache, data_dir):
    cfg = experiment("recgaze", tmp_path, shared_cache, data_dir, f"objective.operator.name={operator}",
                     "objective.ce_weight=0", "data.max_examples={train: 8, val: 4, test: 4}")
    dm, module = build_components(cfg)
    module.objective.attach_data(dm)
    batch = first_batch(dm)
    assert not any(p.requires_grad for p in module.backbone.parameters())
    loss, logs = module.objective.loss(batch, module.objective.forward(batch, module), module)
    assert float(logs["lambda_attn"]) == 0.5 and torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is None for p in module.backbone.parameters())
    prompt = module.objective.soft_prompt
    assert prompt.basis.grad is not None and prompt.basis.grad.abs().sum() > 0
    users = {dm.users[i] for i in batch["user_index"].tolist()}
    for user in dm.users:
        grad = prompt.user_logits[next(k for k, v in prompt._ids.items() if v == user)].grad
        assert (grad is not None and grad.abs().sum() > 0) == (user in users)


def test_tuning_lowers_the_training_kl(tmp_path, shared_cache, data_dir):
    """On a handful of pages, prompt tuning moves the frozen model's slot attention toward the dwell:
    the attention loss (weighted KL) and the plain KL both fall (a tiny random-weight model's attention
    is nearly uniform, so the steps are small; a trained VLM is far more steerable)."""
    cfg = experiment("recgaze", tmp_path, shared_cache, data_dir, "objective.operator.name=glimpse_fixate",
                     "objective.ce_weight=0", "objective.personalised=false",
                     "data.max_examples={train: 4, val: 4, test: 4}", "objective.operator.last_k=4")
    dm, module = build_components(cfg)
    module.objective.attach_data(dm)
    batch = first_batch(dm)
    objective = module.objective
    optimizer = torch.optim.Adam([objective.soft_prompt.basis], lr=0.05)

    def measure() -> tuple[float, float]:
        _, logs = objective.loss(batch, objective.forward(batch, module), module)
        return float(logs["attn_loss"]), float(logs["kl"])

    loss0, kl0 = measure()
    for _ in range(20):
        optimizer.zero_grad()
        loss, _ = objective.loss(batch, objective.forward(batch, module), module)
        loss.backward()
        optimizer.step()
    loss1, kl1 = measure()
    assert loss1 < 0.95 * loss0 and kl1 < kl0


@pytest.mark.parametrize("study", sorted(STUDY))
def test_experiment_runs_end_to_end(study, tmp_path, shared_cache, data_dir):
    cfg = experiment(study, tmp_path, shared_cache, data_dir, "trainer.max_epochs=1",
                     "data.max_examples={train: 8, val: 4, test: 4}", "callbacks.fixate.heatmaps=1")
    train(cfg)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    for name in ("fixate_tf_kl", "backbone_tf_kl", "population_tf_kl", "fixate_gen_csh@1", "fixate_acc",
                 "uniform_kl", "length_kl", "class_mean_kl"):
        assert f"test/{name}" in metrics, name
    assert metrics["test/n_trials"] == 4
    summary = (tmp_path / "fixate" / "test_summary.md").read_text()
    assert "csh@1" in summary and "fixate TF" in summary
    assert (tmp_path / "fixate" / "heatmaps" / "test_example0.png").is_file()
    assert (tmp_path / "soft_prompts.pt").is_file()
    rows = [json.loads(r) for r in (tmp_path / "predictions").glob("test_step*.jsonl").__next__().read_text().splitlines()]
    assert len(rows) == 4 and all(r["reference"] in "ABCDEFGHIJKLMNOPQRSTUVWXY" for r in rows)


@pytest.mark.slow
def test_run_resumed_mid_epoch_equals_the_uninterrupted_run(tmp_path, shared_cache, data_dir):
    """The visual DataModule's training loader is the resumable one (gazelm.data.resumable): a
    FixATE run under gradient accumulation, resumed from a checkpoint taken in the middle of an
    epoch, ends with exactly the uninterrupted run's metrics and soft prompts."""
    every_step = ("data.max_examples={train: 8, val: 4, test: 4}", "data.batch_size=2", "data.eval_batch_size=4",
                  "trainer.accumulate_grad_batches=2", "trainer.max_epochs=2", "trainer.log_every_n_steps=1",
                  "objective.lambda_warmup_steps=1", "callbacks.fixate.heatmaps=0",
                  "callbacks.last_checkpoint.every_n_train_steps=1", "callbacks.last_checkpoint.save_top_k=-1",
                  '+callbacks.last_checkpoint.filename="step{step}"',
                  "+callbacks.last_checkpoint.auto_insert_metric_name=false")
    full = tmp_path / "full"
    train(experiment("recgaze", full, shared_cache, data_dir, *every_step))
    checkpoints = full / "checkpoints"
    assert sorted(int(p.stem[4:]) for p in checkpoints.glob("step*.ckpt")) == [1, 2, 3, 4]  # 2 steps an epoch
    copy = tmp_path / "step3.ckpt"  # mid-epoch 1: one of its two optimizer steps done (no '=' in the path)
    copy.write_bytes((checkpoints / "step3.ckpt").read_bytes())
    resumed = tmp_path / "resumed"
    train(experiment("recgaze", resumed, shared_cache, data_dir, *every_step, f"ckpt_path={copy}"))
    assert json.loads((resumed / "metrics.json").read_text()) == json.loads((full / "metrics.json").read_text())
    final = [torch.load(run / "checkpoints" / "step4.ckpt", weights_only=True)["state_dict"] for run in (full, resumed)]
    prompts = [k for k in final[0] if k.startswith("objective_modules.")]
    assert prompts and all(torch.equal(final[0][k], final[1][k]) for k in prompts)

"""FixATE end to end: fast_dev_run of the experiment per operator, a frozen backbone, only B and z
change, the optimisation lowers the KL, prompts export/load, the objective's relevance is the operator's."""
from __future__ import annotations

import json
import types
from functools import partial
from pathlib import Path

import lightning as L
import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from gazelm.attention.operators import get_operator
from gazelm.attention.slots import slot_relevance
from gazelm.attention.target import Target
from gazelm.models.backbones import Backbone
from gazelm.models.module import GazeLM
from gazelm.models.optim import build_optimizer, clip_group_gradients, parameter_groups
from gazelm.models.soft_prompt import PersonalSoftPrompt
from gazelm.objectives.fixate import Fixate, plain_kl
from gazelm.training import build_components, train
from tests.helpers.compose import train_config

SMALL = "data.source.max_examples={train: 8, val: 4, test: 4}"


@pytest.mark.parametrize("operator", ["rollout", "glimpse_fixate", "attnlrp_fixate"])
def test_fast_dev_run_fixate_code(operator: str, tmp_path: Path, shared_cache: Path, data_dir: Path) -> None:
    cfg = train_config(tmp_path, shared_cache, "experiment=fixate_code", "debug=fdr", f"paths.data_dir={data_dir}",
                       f"objective.operator.name={operator}", "objective.lambda_warmup_steps=0", SMALL)
    train(cfg)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    for prompt in ("backbone", "population", "fixate"):
        for key in ("tf_kl", "gen_kl", "tf_js", "tf_cosine", "tf_tgo@3", "tf_hit@1", "logloss", "acc_correct"):
            assert f"test/{prompt}_{key}" in metrics, f"{prompt}_{key}"
    assert {"test/uniform_kl", "test/length_kl", "test/class_mean_kl", "train/attn_loss"} <= set(metrics)
    assert metrics["test/n_trials"] == 4
    rows = [json.loads(x) for x in (tmp_path / "predictions" / "test_step1.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and all(r["user"] and r["prediction"] in "ABC" for r in rows)
    summary = (tmp_path / "fixate" / "test_summary.md").read_text()
    assert "| kl | ↓ |" in summary and "Per-participant paired Wilcoxon" in summary
    assert len(list((tmp_path / "fixate" / "heatmaps").glob("*.png"))) == 3
    prompts = PersonalSoftPrompt.load(tmp_path / "soft_prompts.pt")
    assert prompts.basis.shape == (8, 16, 64) and len(prompts.users) >= 1


def test_backbone_frozen_and_only_the_prompts_of_batch_users_change(tmp_path: Path, shared_cache: Path,
                                                                     data_dir: Path) -> None:
    cfg = train_config(tmp_path, shared_cache, "experiment=fixate_code", f"paths.data_dir={data_dir}",
                       "objective.operator.name=rollout", "objective.lambda_warmup_steps=0", SMALL,
                       "data.batch_size=2", "trainer.accumulate_grad_batches=1")
    L.seed_everything(0)
    datamodule, module = build_components(cfg)
    before = {k: v.detach().clone() for k, v in module.state_dict().items()}
    assert not any(p.requires_grad for p in module.backbone.parameters())
    seen: set[int] = set()

    class Record(L.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            seen.update(batch["user_index"].tolist())

    trainer = L.Trainer(max_steps=2, limit_val_batches=0, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, accelerator="cpu", callbacks=[Record()])
    trainer.fit(module, datamodule=datamodule)
    after = module.state_dict()
    assert not module.backbone.model.training  # frozen backbones stay in eval mode (no dropout)
    for key, value in before.items():
        if key.startswith("backbone."):
            assert torch.equal(value, after[key]), key
    assert not torch.equal(before["objective_modules.soft_prompt.basis"], after["objective_modules.soft_prompt.basis"])
    users = datamodule.users
    for i, user in enumerate(users):
        key = f"objective_modules.soft_prompt.user_logits.u_{user}"
        changed = not torch.equal(before.get(key, torch.zeros(8)), after[key])  # z_u is created at 0 by fit
        assert changed == (i in seen), user
    # the checkpoint carries the prompts (weights_only) and the exported file stands alone
    path = tmp_path / "fixate.ckpt"
    trainer.save_checkpoint(path)
    ckpt = torch.load(path, weights_only=True)
    assert "objective_modules.soft_prompt.basis" in ckpt["state_dict"]
    fresh = PersonalSoftPrompt(8, 16, 64)
    fresh.load_state_dict({k.split("soft_prompt.", 1)[1]: v for k, v in ckpt["state_dict"].items()
                           if k.startswith("objective_modules.soft_prompt.")})
    assert sorted(fresh.users) == sorted(users)


def _synthetic(init: float = 0.5):
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4,
                      num_key_value_heads=4, max_position_embeddings=128, initializer_range=init,
                      attn_implementation="eager")
    tok = types.SimpleNamespace(pad_token_id=0, eos_token_id=1)
    objective = Fixate(operator={"name": "rollout", "last_k": 3}, n_basis=4, n_tokens=4, ce_weight=0.0,
                       lambda_target=1.0)
    module = GazeLM(Backbone(LlamaForCausalLM(cfg), tok, "causal", "tiny"), objective)
    objective.attach_data(types.SimpleNamespace(users=["u0", "u1", "never"]))
    B, S, n = 4, 24, 6
    g = torch.rand(B, n) ** 3
    g = g / g.sum(1, keepdim=True)
    slot_index = torch.full((B, S), -1)
    for s in range(n):
        slot_index[:, 2 + 3 * s: 5 + 3 * s] = s
    batch = {"input_ids": torch.randint(2, 64, (B, S)), "attention_mask": torch.ones(B, S, dtype=torch.long),
             "user_index": torch.tensor([0, 1, 0, 1]), "slot_index": slot_index, "gaze_target": g,
             "slot_mask": torch.ones(B, n, dtype=torch.bool), "answer_position": torch.full((B,), S - 2),
             "option_ids": torch.tensor([[10, 11, 12]] * B), "choice_index": torch.tensor([0, 1, 2, 0]),
             "correct_index": torch.zeros(B, dtype=torch.long), "labels": torch.full((B, S), -100)}
    # the participant's letter follows the prompt (teacher forcing, as the tokenizer step lays it out)
    batch["input_ids"][:, S - 1] = batch["option_ids"].gather(1, batch["choice_index"].view(-1, 1)).squeeze(1)
    return module, batch


def test_tuning_lowers_the_training_kl_well_below_the_frozen_backbone() -> None:
    module, batch = _synthetic()
    objective = module.objective
    step = types.SimpleNamespace(global_step=1000, backbone=module.backbone,
                                 items_normalizer=lambda b, k: torch.tensor(float(b["input_ids"].shape[0])))
    optimizer = build_optimizer(partial(torch.optim.AdamW, lr=5e-2, weight_decay=1e-3),
                                parameter_groups(module.named_parameters(), objective.parameter_groups(), 1e-3))

    def kl(prompt: str) -> float:
        out = objective.run(batch, module, prompt, output_attentions=True)
        a = objective.slot_attention(out, batch, objective.explained_tokens(out.answer_logits, batch), False, 1.0)
        return plain_kl(batch["gaze_target"], a.detach()).mean().item()

    frozen = kl("none")
    for _ in range(100):
        out = objective.forward(batch, step)
        loss, _ = objective.loss(batch, out, step)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        clip_group_gradients(optimizer, None)
        optimizer.step()
    assert kl("personal") < 0.7 * frozen
    prompt = objective.soft_prompt  # a user never in a batch still has the population prompt
    assert torch.equal(prompt.prompts(["never"])[0], prompt.population())
    assert not torch.allclose(prompt.prompts(["u0"])[0], prompt.population())


@pytest.mark.parametrize("name", ["glimpse_fixate", "attnlrp_fixate", "rollout"])
def test_objective_relevance_equals_the_registered_operator(name: str) -> None:
    module, batch = _synthetic(0.3)
    objective = module.objective
    objective.operator = name
    one = {k: v[:1] for k, v in batch.items()}
    out = objective.run(one, module, "none", output_attentions=True)
    tokens = objective.explained_tokens(out.answer_logits, one)
    got = objective.slot_attention(out, one, tokens, create_graph=False, grad_scale=1.0)
    position = int(one["answer_position"][0])
    ids = one["input_ids"][:, : position + 1]
    relevance = get_operator(name)(module.backbone.model, ids, torch.ones_like(ids),
                                   Target("sequence", sequence=tokens.view(1, 1)), last_k=3)
    expected = slot_relevance(relevance, one["slot_index"][:, : position + 1], 6)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-7)

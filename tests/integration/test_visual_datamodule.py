"""``data=recgaze`` / ``data=adserp`` through the real configs with the tiny VLMs on SYNTHETIC studies."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from gazelm.errors import GazelmInputError
from gazelm.training import build_components, train
from tests.helpers.compose import train_config
from tests.helpers.studies import adserp_folder, recgaze_folder

CASES = {"recgaze": "tiny_vlm_qwen3", "adserp": "tiny_vlm_internvl"}


def study_overrides(study: str, shared_cache: Path, data_dir: Path) -> list[str]:
    root, _ = (recgaze_folder if study == "recgaze" else adserp_folder)(shared_cache, data_dir)
    return [f"data={study}", f"data.source.path={root}", "data.max_examples={train: 12, val: 4, test: 4}",
            "callbacks.generation=null"]


@pytest.mark.parametrize("study", sorted(CASES))
def test_batches_carry_the_fixate_keys(study, tmp_path, shared_cache, data_dir):
    cfg = train_config(tmp_path, shared_cache, f"model={CASES[study]}", *study_overrides(study, shared_cache, data_dir))
    dm, module = build_components(cfg)
    dm.prepare_data()
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    b, width = batch["input_ids"].shape
    assert b == 4 and batch["attention_mask"].shape == (b, width)
    n = batch["slot_mask"].shape[1]
    assert batch["slot_matrix"].shape == (b, n, width) and batch["gaze_target"].shape == (b, n)
    torch.testing.assert_close(batch["gaze_target"].sum(1), torch.ones(b))
    assert (batch["gaze_target"][~batch["slot_mask"]] == 0).all()
    image = batch["input_ids"] == module.backbone.adapter.image_token_id
    assert (batch["slot_matrix"].sum(1)[~image] == 0).all()  # only visual tokens reach slots
    if study == "recgaze":  # posters are larger than the tiny model's patches: every slot holds patch centres
        assert (batch["slot_matrix"].sum(-1)[batch["slot_mask"]] > 0).all()
    rows = torch.arange(b)
    answers = batch["input_ids"][rows, batch["answer_position"] + 1]
    assert torch.equal(answers, batch["option_ids"][rows, batch["choice_index"]])
    assert torch.equal(batch["labels"][rows, batch["answer_position"] + 1], answers)
    assert (batch["labels"] != -100).sum() == b
    letters = module.backbone.tokenizer.convert_ids_to_tokens(batch["option_ids"][0][batch["slot_mask"][0]].tolist())
    assert "".join(letters) == "ABCDEFGHIJKLMNOPQRSTUVWXY"[: int(batch["slot_mask"][0].sum())]
    assert (batch["user_index"] >= 0).all() and batch["user_index"].max() < len(dm.users)
    assert (batch["correct_index"] == -1).all() and "window_n_label_tokens" in batch
    examples = dm.split_examples("train")
    e = examples[int(batch["example_index"][0])]
    assert e.meta["user"] == dm.users[int(batch["user_index"][0])]
    assert e.meta["slot_target"] == pytest.approx(batch["gaze_target"][0][: len(e.meta["choices"])].tolist())
    assert Path(e.meta["image"]).is_file()


@pytest.mark.parametrize("study", sorted(CASES))
def test_fast_dev_run_with_cross_entropy(study, tmp_path, shared_cache, data_dir):
    cfg = train_config(tmp_path, shared_cache, "debug=fdr", f"model={CASES[study]}",
                       *study_overrides(study, shared_cache, data_dir))
    train(cfg)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["val/loss"] > 0 and metrics["test/loss"] > 0


def test_a_text_backbone_is_refused(tmp_path, shared_cache, data_dir):
    cfg = train_config(tmp_path, shared_cache, "model=tiny_causal", *study_overrides("recgaze", shared_cache, data_dir))
    with pytest.raises(GazelmInputError, match="vision-language backbone"):
        build_components(cfg)

"""``data=recgaze`` / ``data=adserp`` through the real configs with the tiny VLMs on SYNTHETIC studies."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

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


def clock_trainer(accumulate: int) -> SimpleNamespace:
    """What the visual DataModule reads from Lightning's trainer: ranks, accumulation and the clock
    (epoch, micro-batches of it consumed, limit_train_batches)."""
    current = SimpleNamespace(ready=0)
    return SimpleNamespace(global_rank=0, world_size=1, accumulate_grad_batches=accumulate, current_epoch=0,
                           limit_train_batches=1.0,
                           fit_loop=SimpleNamespace(epoch_loop=SimpleNamespace(batch_progress=SimpleNamespace(
                               current=current))))


def visual_epoch(loader, trainer, keys) -> list[tuple]:
    seen = []
    for batch in loader:  # the trainer consumes a batch, then a checkpoint could be written
        trainer.fit_loop.epoch_loop.batch_progress.current.ready += 1
        seen.append((tuple(batch["example_index"].tolist()), *(float(batch[k]) for k in keys)))
    return seen


def test_training_loader_stamps_the_objectives_step_counts_and_resumes_mid_epoch(tmp_path, shared_cache, data_dir):
    """The visual training loader is the text one's (gazelm.data.resumable): each micro-batch carries
    its optimizer step's totals of FixATE's window_counts, the order is reshuffled every epoch through
    the trainer's clock, and a checkpoint's position continues the same batches and windows."""
    overrides = [*study_overrides("recgaze", shared_cache, data_dir), "data.max_examples={train: 12, val: 4, test: 4}",
                 "data.batch_size=2", "objective=fixate", "model=tiny_vlm_qwen3"]
    keys = ("window_n_examples", "window_n_label_tokens")

    def loader_of(position=None):
        dm, module = build_components(train_config(tmp_path, shared_cache, *overrides))
        trainer = clock_trainer(accumulate=2)
        dm.trainer = trainer
        if position is not None:
            dm.load_state_dict(position)
        return dm, module, trainer, dm.train_dataloader()

    dm, module, trainer, loader = loader_of()
    counts = []
    for batch in loader:
        trainer.fit_loop.epoch_loop.batch_progress.current.ready += 1
        counts.append({k: float(v) for k, v in module.objective.window_counts(batch).items()})
        if len(counts) == 3:
            state = dm.state_dict()  # killed after micro-batch 3: in the middle of the second window
    assert len(counts) == 6 and state["train_position"]["batches"] == 3
    trainer.fit_loop.epoch_loop.batch_progress.current.ready = 0
    first = visual_epoch(loader, trainer, keys)
    for (_, n_examples, n_labels), start in zip(first, (0, 0, 2, 2, 4, 4)):
        assert n_examples == sum(c["n_examples"] for c in counts[start:start + 2]) == 4
        assert n_labels == sum(c["n_label_tokens"] for c in counts[start:start + 2])
    trainer.current_epoch, trainer.fit_loop.epoch_loop.batch_progress.current.ready = 1, 0
    second = visual_epoch(loader, trainer, keys)
    assert sorted(i for b, *_ in first for i in b) == sorted(i for b, *_ in second for i in b) == list(range(12))
    assert [b for b, *_ in first] != [b for b, *_ in second]  # the loader is built once; epochs still reshuffle

    _, _, resumed_trainer, resumed = loader_of(state)
    resumed_trainer.fit_loop.epoch_loop.batch_progress.current.ready = 3
    assert visual_epoch(resumed, resumed_trainer, keys) == first[3:]

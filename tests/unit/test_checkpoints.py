"""Checkpoint files: every way a ``ckpt_path=`` can be wrong is one line; writes are atomic;
``resume=<run dir>`` rebuilds the run's command; the CSV history and the W&B run continue."""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

from gazelm.checkpoints import AtomicCheckpointIO, check_resumable, config_differences, read_checkpoint
from gazelm.resume import resume_argv, trim_csv_history
from gazelm.errors import GazelmInputError


def _checkpoint(path: Path) -> Path:
    torch.save({"state_dict": {"w": torch.arange(4.0), "b": torch.zeros(2)}, "global_step": 3, "epoch": 0}, path)
    return path


class Hostile:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def _one_line(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert "\n" not in text
    return text


@pytest.mark.parametrize("case,expected", [
    ("missing", "checkpoint not found"),
    ("directory", "is a directory, not a checkpoint file"),
    ("empty", "checkpoint file is empty"),
    ("truncated", "truncated or corrupt"),
    ("text", "not a PyTorch checkpoint"),
    ("foreign", "not a gazelm/Lightning training checkpoint (no 'state_dict'; found weights)"),
    ("hostile", "refused: the file holds Python objects"),
])
def test_bad_checkpoint_files_give_one_line_naming_the_file(case: str, expected: str, tmp_path: Path) -> None:
    path = tmp_path / "x.ckpt"
    if case == "directory":
        path.mkdir()
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "truncated":
        data = _checkpoint(tmp_path / "good.ckpt").read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif case == "text":
        path.write_text("this is not a checkpoint\n")
    elif case == "foreign":
        torch.save({"weights": torch.ones(2)}, path)
    elif case == "hostile":
        path.write_bytes(pickle.dumps(Hostile()))
    with pytest.raises(GazelmInputError) as err:
        read_checkpoint(path)
    text = _one_line(err)
    assert text.startswith(f"{path}, field 'ckpt_path': ") and expected in text
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()


def test_good_checkpoint_reads(tmp_path: Path) -> None:
    state = read_checkpoint(_checkpoint(tmp_path / "ok.ckpt"))
    assert state["global_step"] == 3 and torch.equal(state["state_dict"]["w"], torch.arange(4.0))


def test_interrupted_checkpoint_save_keeps_the_previous_file(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"state_dict": {"w": torch.ones(3)}}, path)
    before = path.read_bytes()

    def dies_halfway(obj, f):
        Path(f).write_bytes(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt  # the process is stopped while writing

    monkeypatch.setattr(torch, "save", dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"state_dict": {"w": torch.zeros(3)}}, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]  # no temporary file left


def test_config_mismatch_names_the_keys_and_tensors(tmp_path: Path) -> None:
    saved = {"model": {"config": {"hidden_size": 128, "model_type": "llama"}}, "trainer": {"max_epochs": 3},
             "paths": {"output_dir": "/a"}}
    now = {"model": {"config": {"hidden_size": 64, "model_type": "llama"}}, "trainer": {"max_epochs": 5},
           "paths": {"output_dir": "/b"}}
    assert config_differences(saved, now) == {"model.config.hidden_size": (128, 64)}  # run-only keys ignored
    checkpoint = {"state_dict": {"w": torch.zeros(128, 4)}, "gazelm_config": saved}
    module = torch.nn.Module()
    module.register_buffer("w", torch.zeros(64, 4))
    from omegaconf import OmegaConf

    with pytest.raises(GazelmInputError) as err:
        check_resumable(checkpoint, module, OmegaConf.create(now), tmp_path / "last.ckpt")
    text = _one_line(err)
    assert "model.config.hidden_size: 128 in the checkpoint's run, 64 now" in text
    assert "w [128, 4] in the checkpoint vs [64, 4] now" in text


def test_trim_csv_history_drops_rows_after_the_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    path.write_text("epoch,step,train/loss,val/loss\n0,0,5.0,\n0,1,4.0,\n0,1,,3.9\n0,2,3.0,\n1,3,2.5,\n")
    trim_csv_history(path, from_step=2)
    assert path.read_text() == "epoch,step,train/loss,val/loss\n0,0,5.0,\n0,1,4.0,\n0,1,,3.9\n"


def test_resume_argv_replays_the_run(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "2026-01-01" / "10-00-00"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "overrides.yaml").write_text("- model=tiny_causal\n- trainer.max_epochs=2\n- ckpt_path=old.ckpt\n")
    with pytest.raises(GazelmInputError, match="no checkpoint to resume from"):
        resume_argv(["gazelm train", f"resume={run}"])
    (run / "checkpoints").mkdir()
    _checkpoint(run / "checkpoints" / "last.ckpt")
    expected = ["gazelm train", "model=tiny_causal", "trainer.max_epochs=2", "trainer.max_epochs=4",
                f'ckpt_path="{run}/checkpoints/last.ckpt"', f'hydra.run.dir="{run}"']
    assert resume_argv(["gazelm train", f"resume={run}", "trainer.max_epochs=4"]) == expected
    assert resume_argv(["gazelm train", "resume=last", "trainer.max_epochs=4"], outputs=tmp_path) == expected
    assert resume_argv(["gazelm train", "seed=1"]) == ["gazelm train", "seed=1"]
    with pytest.raises(GazelmInputError, match="not a gazelm run directory"):
        resume_argv(["gazelm train", f"resume={tmp_path}"])
    with pytest.raises(GazelmInputError, match="without -m"):
        resume_argv(["gazelm train", "-m", f"resume={run}"])


def test_csv_logger_appends_to_an_existing_history(tmp_path: Path) -> None:
    from gazelm.loggers import CSVLogger

    first = CSVLogger(save_dir=tmp_path, name="csv", version="")
    first.log_metrics({"train/loss": 2.0}, step=0)
    first.save()
    second = CSVLogger(save_dir=tmp_path, name="csv", version="")  # the resumed run
    second.log_metrics({"train/loss": 1.0, "val/loss": 1.5}, step=1)
    second.save()
    assert (tmp_path / "csv" / "metrics.csv").read_text().splitlines() == [
        "step,train/loss,val/loss", "0,2.0,", "1,1.0,1.5"]


def test_wandb_logger_resumes_the_run_of_its_directory(tmp_path: Path, monkeypatch) -> None:
    from gazelm.loggers import previous_run_id, wandb_logger

    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert previous_run_id(tmp_path) is None
    fresh = wandb_logger(save_dir=str(tmp_path), name="objective=ce")
    assert fresh._wandb_init.get("id") is None and fresh._wandb_init["name"] == "objective=ce"
    (tmp_path / "wandb" / "offline-run-20260101_100000-ab12cd34").mkdir(parents=True)
    resumed = wandb_logger(save_dir=str(tmp_path), name="objective=ce,ckpt_path=x")
    assert resumed._wandb_init["id"] == "ab12cd34" and resumed._wandb_init["resume"] == "allow"
    assert resumed._wandb_init.get("name") is None  # the run keeps its name


def test_a_finished_run_says_how_to_train_longer(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from gazelm.resume import check_not_finished

    state = {"global_step": 12, "loops": {"fit_loop": {"epoch_progress": {"current": {"completed": 3}}}}}
    check_not_finished(state, SimpleNamespace(max_steps=-1, max_epochs=5), tmp_path / "last.ckpt")  # 3 of 5: resumes
    with pytest.raises(GazelmInputError, match=r"finished training \(3 of trainer.max_epochs=3 epochs\); to train "
                                               r"longer give a larger trainer.max_epochs"):
        check_not_finished(state, SimpleNamespace(max_steps=-1, max_epochs=3), tmp_path / "last.ckpt")
    with pytest.raises(GazelmInputError, match=r"step 12 of trainer.max_steps=12"):
        check_not_finished(state, SimpleNamespace(max_steps=12, max_epochs=None), tmp_path / "last.ckpt")

"""The jobs of a multirun: varying overrides, status files, the end table, W&B names, the SLURM script."""
from __future__ import annotations

import json
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobStatus
from hydra.types import RunMode
from omegaconf import OmegaConf, flag_override

from gazelm import sweep
from gazelm.callbacks.hydra_jobs import _STARTED, SweepJobs, print_sweep_table
from tests.helpers.compose import compose_config

JOBS = [["+ablation=ce", "task=translation", "seed=42", "debug=limit"],
        ["+ablation=ce", "task=summarization", "seed=42", "debug=limit"],
        ["+ablation=eyemulator", "task=translation", "seed=42", "debug=limit"]]


def test_varying_override_keys_are_those_whose_value_differs_or_is_absent_somewhere() -> None:
    assert sweep.varying_override_keys(JOBS) == ["+ablation", "task"]
    assert sweep.varying_override_keys([["a=1"], ["a=1", "b=2"]]) == ["b"]
    assert sweep.varying(JOBS[2], ["+ablation", "task"]) == ["+ablation=eyemulator", "task=translation"]


def test_problems_are_grouped_by_message_with_their_jobs() -> None:
    text = sweep.format_problems({"data: bad": [0, 2], "metric: no": [1], "everywhere": [0, 1, 2]}, JOBS)
    assert text.splitlines() == [
        "gazelm train: the sweep cannot run: 3 of 3 jobs have problems; no job was started.",
        "  - jobs 0, 2: data: bad",
        "  - job 1 (+ablation=ce task=summarization): metric: no",
        "  - every job: everywhere"]


def _job_config(out: Path, num: int) -> OmegaConf:
    return OmegaConf.create({"hydra": {"mode": "RunMode.MULTIRUN", "job": {"num": num},
                                       "runtime": {"output_dir": str(out / str(num))},
                                       "overrides": {"task": JOBS[num]}}})


def test_status_files_and_the_end_of_sweep_table(tmp_path: Path, capsys) -> None:
    sweep.write_jobs_file(tmp_path, JOBS)
    callback = SweepJobs()
    ok, failed = JobReturn(), JobReturn()
    ok.status, failed.status = JobStatus.COMPLETED, JobStatus.FAILED
    failed._return_value = RuntimeError("CUDA out of memory.\nTried to allocate 2 GiB")
    for num, ret in ((0, ok), (1, failed)):
        callback.on_job_start(_job_config(tmp_path, num))
        assert json.loads((tmp_path / str(num) / "status.json").read_text())["status"] == "running"
        callback.on_job_end(_job_config(tmp_path, num), ret)
    (tmp_path / "0" / "metrics.json").write_text("{}")
    assert "gazelm: job 1 failed: RuntimeError: CUDA out of memory." in capsys.readouterr().err
    assert "Tried to allocate" in (tmp_path / "1" / "error.txt").read_text()  # the traceback is kept
    states = sweep.job_states(tmp_path)  # job 2 never started
    assert [(s.num, s.status, s.error) for s in states] == [
        (0, "ok", ""), (1, "failed", "RuntimeError: CUDA out of memory."),
        (2, "missing", "never started (no job directory)")]
    _STARTED["sweep_dir"] = str(tmp_path)
    print_sweep_table()
    out = capsys.readouterr().out
    assert f"gazelm: sweep {tmp_path}: 3 jobs: 1 ok, 1 failed, 1 missing" in out
    assert "+ablation=ce task=summarization" in out and "debug=limit" not in out  # only what varies


def test_a_job_killed_while_running_is_missing(tmp_path: Path) -> None:
    sweep.write_jobs_file(tmp_path, JOBS[:1])
    sweep.write_status(tmp_path / "0", 0, JOBS[0], "running")
    assert sweep.job_states(tmp_path)[0].error == "started but never finished (killed, or still running)"


def test_wandb_run_names_hold_only_the_overrides_that_vary(tmp_path: Path) -> None:
    from gazelm.config import job_name

    sweep.write_jobs_file(tmp_path, JOBS)
    for mode, name in ((RunMode.MULTIRUN, "+ablation=ce,task=summarization"),
                       (RunMode.RUN, "+ablation=ce,task=summarization,seed=42,debug=limit")):  # a run: all of them
        cfg = compose_config(JOBS[1], output_dir=tmp_path / "1")
        with flag_override(cfg.hydra, ["struct", "readonly"], [False, False]):
            cfg.hydra.mode = mode
            cfg.hydra.sweep.dir = str(tmp_path)
        HydraConfig.instance().set_config(cfg)
        assert job_name() == name


def test_slurm_submission_is_submitits_sbatch_script(tmp_path: Path) -> None:
    cfg = compose_config(["launcher=submitit_slurm", "trainer=ddp", "trainer.devices=4",
                          "hydra.launcher.partition=gpu", "hydra.launcher.account=myproj"], output_dir=tmp_path)
    launcher = OmegaConf.to_container(cfg.hydra.launcher, resolve=True)
    script = sweep.slurm_submission(launcher, n_jobs=4).splitlines()
    for line in ("#SBATCH --array=0-3%4", "#SBATCH --gpus-per-node=4", "#SBATCH --ntasks-per-node=4",
                 "#SBATCH --partition=gpu", "#SBATCH --account=myproj", "#SBATCH --time=720", "#SBATCH --mem=64GB",
                 "#SBATCH --cpus-per-task=8"):
        assert line in script
    assert script[0] == "#!/bin/bash" and any("submitit.core._submit" in line for line in script)

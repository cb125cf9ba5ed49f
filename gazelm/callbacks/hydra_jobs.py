"""Hydra callback of ``gazelm train`` (registered in ``conf/hydra/default.yaml``).

- multirun start: expand the sweep, compose and check every job's config (one error list,
  exit status 2, nothing started), write ``<sweep dir>/jobs.json``; with ``+dry_run=true``
  (``gazelm train --dry-run``) print the job table, and under ``launcher=submitit_slurm``
  the sbatch script it would submit, then stop;
- each job: ``status.json`` when it starts and ends (a failed job also prints its first error
  line and writes ``error.txt``);
- the end-of-sweep table of jobs (ok / failed / missing) is printed by
  :func:`print_sweep_table`, which ``gazelm train`` calls after Hydra returns or fails
  (Hydra skips ``on_multirun_end`` when a job failed).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from gazelm import sweep

#: The sweep directory of the multirun started in this process (for :func:`print_sweep_table`).
_STARTED: dict[str, str] = {}


def _rank_zero() -> bool:
    """Under SLURM every task of a multi-task job runs the job: only task 0 writes its status."""
    return int(os.environ.get("SLURM_PROCID", os.environ.get("RANK", "0")) or 0) == 0


class SweepJobs(Callback):
    """Preflight, dry run and per-job status files (see the module docstring)."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        if config.get("dry_run"):
            from gazelm.preflight import config_problems

            jobs = [list(config.hydra.overrides.task)]
            problems = {p: [0] for p in config_problems(config)}
            self._report(problems, jobs)
            sweep.print_dry_run(jobs)
            raise SystemExit(0)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        jobs = sweep.sweep_job_overrides(config)
        if jobs is None:  # a sweeper that picks jobs as it goes: check the base config only
            from gazelm.preflight import config_problems

            problems = {p: [0] for p in config_problems(config)}
            self._report(problems, [list(config.hydra.overrides.task)])
            if config.get("dry_run"):
                print(f"gazelm: {config.hydra.sweeper.get('_target_')} chooses its jobs while it runs; "
                      "the base config is fine (dry run, nothing started)")
                raise SystemExit(0)
            _STARTED["sweep_dir"] = str(config.hydra.sweep.dir)
            return
        self._report(sweep.preflight_problems(config, jobs), jobs)
        if config.get("dry_run"):
            sweep.print_dry_run(jobs)
            launcher = config.hydra.launcher
            if launcher.get("_target_") == sweep.SLURM_LAUNCHER:
                from omegaconf import OmegaConf

                script = sweep.slurm_submission(OmegaConf.to_container(launcher, resolve=True), len(jobs))
                print(f"sbatch script hydra-submitit-launcher would submit (one array job of {len(jobs)}):\n{script}")
            raise SystemExit(0)
        sweep.write_jobs_file(config.hydra.sweep.dir, jobs)
        _STARTED["sweep_dir"] = str(config.hydra.sweep.dir)

    @staticmethod
    def _report(problems: dict[str, list[int]], jobs: list[list[str]]) -> None:
        if problems:
            print(sweep.format_problems(problems, jobs), file=sys.stderr)
            raise SystemExit(2)

    # -- per job --------------------------------------------------------------------------
    @staticmethod
    def _job(config: DictConfig) -> tuple[str, int, list[str]] | None:
        hc = config.hydra
        if str(hc.mode) != "RunMode.MULTIRUN" or not _rank_zero():
            return None  # single runs and DDP children (which run in RUN mode) write no status
        return str(hc.runtime.output_dir), int(hc.job.num), list(hc.overrides.task)

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        job = self._job(config)
        if job:
            sweep.write_status(*job, "running")

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        job = self._job(config)
        if not job:
            return
        failed = str(job_return.status) == "JobStatus.FAILED"
        error = job_return._return_value if failed else None
        sweep.write_status(*job, "failed" if failed else "ok", error if isinstance(error, BaseException) else None)
        if failed:
            print(f"gazelm: job {job[1]} failed: {sweep.first_error_line(error)} (see {job[0]})", file=sys.stderr)


def print_sweep_table() -> None:
    """After a multirun started in this process: the table of its jobs (ok / failed / missing)."""
    sweep_dir = _STARTED.pop("sweep_dir", None)
    if not sweep_dir or not Path(sweep_dir).is_dir():
        return
    states = sweep.job_states(sweep_dir)
    if not states:
        return
    sweep.print_job_table(states, f"gazelm: sweep {sweep_dir}: {sweep.summary_line(states)}")


def current_sweep_varying() -> list[str] | None:
    """The varying override keys of the multirun this job belongs to (``None`` outside one)."""
    hc = HydraConfig.get()
    if str(hc.mode) != "RunMode.MULTIRUN":
        return None
    recorded = sweep.read_jobs_file(hc.sweep.dir)
    return recorded.get("varying") if recorded else None

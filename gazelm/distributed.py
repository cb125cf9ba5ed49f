"""Lightning DDP inside Hydra runs and multiruns (DESIGN.md, known pitfalls).

Lightning's DDP launcher re-runs the *command line* in each child, so under a Hydra
multirun every child re-runs the whole sweep and makes a second sweep dir. The fix:
children run only the current job (its task overrides) in the job's own directory in
RUN mode; after each job the process group is destroyed and the rank variables are
cleared so the next job of the sweep starts clean.
"""
from __future__ import annotations

import os
import sys
from typing import Sequence

RANK_ENV = ("LOCAL_RANK", "NODE_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "PL_GLOBAL_SEED", "RANK",
            "GROUP_RANK", "LOCAL_WORLD_SIZE", "PL_TRAINER_GPUS")


def job_subprocess_cmd(local_rank: int) -> tuple[Sequence[str], str]:
    """The command a DDP child runs: this job only, in this job's output directory."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.utils import get_original_cwd

    hc = HydraConfig.get()
    command = [sys.executable, "-m", "gazelm.cli.train", f"--config-name={hc.job.config_name}"]
    for source in hc.runtime.config_sources:
        if source.provider == "command-line":
            command.append(f"--config-dir={source.path.removeprefix('file://')}")
    command += list(hc.overrides.task)
    command += [f'hydra.run.dir="{hc.runtime.output_dir}"', "hydra.mode=RUN", "hydra.output_subdir=null",
                f"hydra.job.name=ddp_rank_{local_rank}"]
    return command, get_original_cwd()


def install_ddp_fix() -> None:
    """Make Lightning's subprocess launcher use :func:`job_subprocess_cmd`."""
    import lightning.fabric.strategies.launchers.subprocess_script as fabric_launcher
    import lightning.pytorch.strategies.launchers.subprocess_script as pl_launcher

    pl_launcher._hydra_subprocess_cmd = job_subprocess_cmd
    fabric_launcher._hydra_subprocess_cmd = job_subprocess_cmd


def process_group_ready() -> bool:
    """True inside an initialised torch.distributed process group (DDP ranks)."""
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def teardown_job() -> None:
    """After a job: leave no process group or rank variables for the next sweep job."""
    import torch.distributed as dist

    if process_group_ready():
        dist.destroy_process_group()
    for name in RANK_ENV:
        os.environ.pop(name, None)

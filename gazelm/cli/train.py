"""``gazelm train [overrides]`` / ``python -m gazelm.cli.train``: one Hydra app.

``-m`` runs a multirun sweep: every job's config is checked before the first starts, and a
table of the jobs (ok / failed / missing) is printed at the end. ``--dry-run`` (or
``+dry_run=true``) checks the configs and prints the jobs (and, with
``launcher=submitit_slurm``, the sbatch script) without running anything.
``resume=<run dir>`` continues that run (its overrides, its last checkpoint, its directory).
The return value is the optimised metric, for Hydra sweepers that read it (Optuna).
"""
from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from gazelm.callbacks.hydra_jobs import print_sweep_table
from gazelm.config import conf_dir
from gazelm.distributed import install_ddp_fix
from gazelm.errors import GazelmInputError

DRY_RUN_FLAG = "--dry-run"


def _fail(err: Exception) -> None:
    """Bad data or config: one clear line, no traceback."""
    print(f"gazelm train: error: {err}", file=sys.stderr)
    raise SystemExit(2) from None


@hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name="train")
def _hydra_main(cfg: DictConfig) -> float | None:
    from hydra.core.hydra_config import HydraConfig

    from gazelm.training import train

    try:
        return train(cfg)
    except GazelmInputError as err:
        if str(HydraConfig.get().mode) == "RunMode.MULTIRUN":
            raise  # the job fails, the sweep goes on; its status file and the final table say why
        _fail(err)


def main() -> float | None:
    """``--dry-run`` → ``++dry_run=true``; ``resume=<run dir>`` becomes that run's overrides +
    ``ckpt_path`` + ``hydra.run.dir``; then Hydra, and after a multirun the table of its jobs."""
    from gazelm.resume import resume_argv

    if DRY_RUN_FLAG in sys.argv[1:]:
        sys.argv = [a if a != DRY_RUN_FLAG else "++dry_run=true" for a in sys.argv]
    try:
        sys.argv = resume_argv(sys.argv)
    except GazelmInputError as err:
        _fail(err)
    try:
        return _hydra_main()
    finally:
        print_sweep_table()


install_ddp_fix()

if __name__ == "__main__":
    main()

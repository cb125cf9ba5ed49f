"""``gazelm train [overrides]`` / ``python -m gazelm.cli.train``: one Hydra app.

``-m`` runs a multirun sweep; the return value is the optimised metric, so Hydra
sweepers (Optuna) can use it.
"""
from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from gazelm.config import conf_dir
from gazelm.distributed import install_ddp_fix
from gazelm.errors import GazelmInputError


def _fail(err: Exception) -> None:
    """Bad data or config: one clear line, no traceback."""
    print(f"gazelm train: error: {err}", file=sys.stderr)
    raise SystemExit(2) from None


@hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name="train")
def _hydra_main(cfg: DictConfig) -> float | None:
    from gazelm.training import train

    try:
        return train(cfg)
    except GazelmInputError as err:
        _fail(err)


def main() -> float | None:
    """``resume=<run dir>`` becomes that run's overrides + ``ckpt_path`` + ``hydra.run.dir``, then Hydra."""
    from gazelm.resume import resume_argv

    try:
        sys.argv = resume_argv(sys.argv)
    except GazelmInputError as err:
        _fail(err)
    return _hydra_main()


install_ddp_fix()

if __name__ == "__main__":
    main()

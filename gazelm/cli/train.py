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


@hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name="train")
def main(cfg: DictConfig) -> float | None:
    from gazelm.errors import GazelmInputError
    from gazelm.training import train

    try:
        return train(cfg)
    except GazelmInputError as err:  # bad data or config: one clear line, no traceback
        print(f"gazelm train: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None


install_ddp_fix()

if __name__ == "__main__":
    main()

"""``gazelm export checkpoint=<run>/checkpoints/last.ckpt out=DIR [lora=merge|adapter]`` (``conf/export.yaml``)."""
from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from gazelm.config import conf_dir
from gazelm.errors import GazelmInputError


@hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name="export")
def _hydra_main(cfg: DictConfig) -> None:
    from gazelm.export import export_from_config

    try:
        out = export_from_config(cfg)
    except GazelmInputError as err:
        print(f"gazelm export: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    print(f"exported to {out}")


def main() -> None:
    _hydra_main()


if __name__ == "__main__":
    main()

"""``gazelm align``: probe model attention and score it against human attention (Kou et al.).

- ``gazelm align [hydra overrides]``: operator(s) × model(s) on HumanEval or MBPP prompts with
  Kou et al.'s labels (``conf/align.yaml``); the study is :mod:`gazelm.attention.study`.
- ``gazelm align score --human H.jsonl --model M.jsonl [M2.jsonl ...] --k 5 10 20 --out
  results.csv``: scores attention produced anywhere.

Bad input (files, rows, fields, K) is one line on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

import pandas as pd

from gazelm.attention.study import COLUMNS, format_tables, run_from_config, score_files
from gazelm.config import conf_dir
from gazelm.errors import GazelmInputError

__all__ = ["COLUMNS", "main", "run", "score_main"]


def score_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="gazelm align score",
                                     description="Score model attention (JSONL) against human spans (JSONL).")
    parser.add_argument("--human", required=True, help='rows {"prompt", "spans": [[start, end], ...]} (half-open)')
    parser.add_argument("--model", required=True, nargs="+", help='rows {"method", "model", "prompt", "tokens"}')
    parser.add_argument("--k", type=int, nargs="+", default=[5, 10, 20], help="cut-offs K (positive)")
    parser.add_argument("--out", default=None, help="CSV with columns " + ", ".join(COLUMNS))
    parser.add_argument("--skip-unlabelled", action="store_true", help="ignore prompts without human spans")
    args = parser.parse_args(list(argv))
    try:
        table = score_files(args.human, args.model, args.k, args.skip_unlabelled)
    except GazelmInputError as err:
        print(f"gazelm align score: {err}", file=sys.stderr)
        return 2
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out, index=False)
    print(format_tables(table))
    return 0


def run(cfg) -> pd.DataFrame:
    """Run the study of ``cfg`` (``conf/align.yaml``), print Table 3 and the output directory."""
    table = run_from_config(cfg)
    print(format_tables(table))
    print(f"output directory: {cfg.output_dir}")
    return table


def _hydra_main() -> int:
    import hydra

    status = 0

    @hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name="align")
    def app(cfg) -> None:
        nonlocal status
        try:
            run(cfg)
        except GazelmInputError as err:
            print(f"gazelm align: {err}", file=sys.stderr)
            status = 2

    app()
    return status


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "score":
        return score_main(sys.argv[2:])
    return _hydra_main()


if __name__ == "__main__":
    sys.exit(main())

"""``gazelm align``: probe model attention and score it against human attention (Kou et al.).

Two modes:

- ``gazelm align [hydra overrides]``: operator(s) × model(s) on HumanEval or MBPP prompts with
  Kou et al.'s labels; writes ``attention.jsonl`` (rows ``{"method", "model", "prompt",
  "tokens": [[text, score], ...]}``), ``human.jsonl`` (``{"prompt", "spans"}``) and
  ``summary.csv`` (Table 3: method × model × K → P, R, F1, α; plus the mean over models).
- ``gazelm align score --human H.jsonl --model M.jsonl [M2.jsonl ...] --k 5 10 20 --out
  results.csv``: scores attention produced anywhere.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import defaultdict
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd

from gazelm.config import conf_dir
from gazelm.errors import GazelmInputError
from gazelm.metrics.alignment import score_prompts

log = logging.getLogger(__name__)
COLUMNS = ["method", "model", "k", "precision", "recall", "f1", "krippendorff_alpha", "n_prompts"]
AVERAGE = "average"


# ---------------------------------------------------------------- scoring (pure)
def summarise(model_rows: Iterable[dict], human: dict[str, list[tuple[int, int]]], ks: Sequence[int],
              skip_unlabelled: bool = False) -> pd.DataFrame:
    """Table 3 rows per (method, model, k), then the mean over models per (method, k)."""
    groups: dict[tuple[str, str], list] = defaultdict(list)
    for row in model_rows:
        spans = human[row["prompt"]]
        if skip_unlabelled and not spans:
            continue
        groups[(row["method"], row["model"])].append((row["prompt"], [tuple(t) for t in row["tokens"]], spans))
    records = [{"method": method, "model": model, **cell}
               for (method, model), examples in groups.items() for cell in score_prompts(examples, ks)]
    table = pd.DataFrame.from_records(records, columns=COLUMNS)
    if table.empty:
        return table
    metrics = ["precision", "recall", "f1", "krippendorff_alpha", "n_prompts"]
    mean = table.groupby(["method", "k"], sort=False)[metrics].mean().reset_index()
    mean["model"] = AVERAGE
    mean["n_prompts"] = mean["n_prompts"].round().astype(int)
    return pd.concat([table, mean[COLUMNS]], ignore_index=True)


def format_table(table: pd.DataFrame) -> str:
    """Method × (K, metric) grid, as in Kou et al.'s Table 3."""
    wide = table.pivot_table(index="method", columns="k", values=["precision", "recall", "f1", "krippendorff_alpha"],
                             sort=False)
    wide = wide.swaplevel(0, 1, axis=1).sort_index(axis=1, level=0, sort_remaining=False)
    return wide.to_string(float_format=lambda x: f"{x:.3f}")


def print_tables(table: pd.DataFrame) -> None:
    for model in [m for m in table["model"].unique() if m != AVERAGE]:
        print(f"== {model}")
        print(format_table(table[table["model"] == model]))
    print(f"== {AVERAGE} over models")
    print(format_table(table[table["model"] == AVERAGE]))


# ---------------------------------------------------------------- files
def read_human(path: str | Path) -> dict[str, list[tuple[int, int]]]:
    from gazelm.data.sources.common import read_jsonl

    human: dict[str, list[tuple[int, int]]] = {}
    for lineno, row in read_jsonl(path, required=("prompt",)):
        spans = row.get("spans")
        if not isinstance(spans, list) or not all(isinstance(s, list) and len(s) == 2 and all(isinstance(v, int) for v in s)
                                                  and 0 <= s[0] <= s[1] <= len(row["prompt"]) for s in spans):
            raise GazelmInputError("expected a list of [start, end] integer pairs inside the prompt", path=path,
                                   row=lineno, field="spans")
        human[row["prompt"]] = [tuple(s) for s in spans]
    return human


def read_model(path: str | Path, human: dict[str, list]) -> list[dict]:
    from gazelm.data.sources.common import read_jsonl

    rows = []
    for lineno, row in read_jsonl(path, required=("method", "model", "prompt")):
        tokens = row.get("tokens")
        if not isinstance(tokens, list) or not all(isinstance(t, list) and len(t) == 2 and isinstance(t[0], str)
                                                   and isinstance(t[1], (int, float)) for t in tokens):
            raise GazelmInputError("expected a list of [text, score] pairs", path=path, row=lineno, field="tokens")
        if row["prompt"] not in human:
            raise GazelmInputError("prompt has no row in the human attention file", path=path, row=lineno,
                                   field="prompt")
        rows.append(row)
    return rows


def score_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="gazelm align score",
                                     description="Score model attention (JSONL) against human spans (JSONL).")
    parser.add_argument("--human", required=True, help='rows {"prompt", "spans": [[start, end], ...]} (half-open)')
    parser.add_argument("--model", required=True, nargs="+", help='rows {"method", "model", "prompt", "tokens"}')
    parser.add_argument("--k", type=int, nargs="+", default=[5, 10, 20])
    parser.add_argument("--out", default=None, help="CSV with columns " + ", ".join(COLUMNS))
    parser.add_argument("--skip-unlabelled", action="store_true", help="ignore prompts without human spans")
    args = parser.parse_args(list(argv))
    try:
        human = read_human(args.human)
        rows = [row for path in args.model for row in read_model(path, human)]
    except GazelmInputError as err:
        print(f"gazelm align score: {err}", file=sys.stderr)
        return 2
    table = summarise(rows, human, args.k, args.skip_unlabelled)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out, index=False)
    print_tables(table)
    return 0


# ---------------------------------------------------------------- the study (Hydra)
def run(cfg) -> pd.DataFrame:
    """Probe every (model, operator) on the dataset's prompts, write JSONL + summary, return it."""
    import torch
    from omegaconf import OmegaConf

    from gazelm.attention.models import load_probe_model
    from gazelm.attention.probe import load_operator_spec, probe_texts
    from gazelm.data.sources.kou_labels import load_kou_labels
    from gazelm.registry import import_plugins

    import_plugins(cfg.get("plugins"))
    torch.manual_seed(int(cfg.seed))
    out = Path(cfg.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    prompts = load_kou_labels(cfg.dataset, cfg.labels_path)
    if cfg.max_prompts is not None:
        prompts = prompts[: int(cfg.max_prompts)]
    texts = [p.text for p in prompts]
    human = {p.text: p.span_tuples() for p in prompts}
    with open(out / "human.jsonl", "w", encoding="utf-8") as fh:
        for p in prompts:
            fh.write(json.dumps({"prompt": p.text, "spans": [list(s) for s in p.span_tuples()],
                                 "dataset": p.dataset, "prompt_id": p.prompt_id}) + "\n")
    names = [cfg.operators] if isinstance(cfg.operators, str) else list(cfg.operators)
    overrides = OmegaConf.to_container(cfg.operator_overrides, resolve=True) or {}
    specs = [load_operator_spec(name, conf_dir(), overrides.get(name)) for name in names]
    rows = []
    with open(out / "attention.jsonl", "w", encoding="utf-8") as fh:
        for model_spec in OmegaConf.to_container(cfg.models, resolve=True):
            probe = load_probe_model(model_spec, texts, cfg.cache_dir)
            for spec in specs:
                log.info("probing %s with %s on %d prompts", probe.name, spec.label, len(texts))
                scored = probe_texts(probe.model, probe.tokenizer, texts, spec, int(cfg.batch_size))
                for text, tokens in zip(texts, scored):
                    row = {"method": spec.label, "model": probe.name, "prompt": text,
                           "tokens": [[piece, score] for piece, score, _ in tokens]}
                    rows.append(row)
                    fh.write(json.dumps(row) + "\n")
    table = summarise(rows, human, list(cfg.ks), bool(cfg.skip_unlabelled))
    table.to_csv(out / "summary.csv", index=False)
    print_tables(table)
    return table


def _hydra_main() -> None:
    import hydra

    @hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name="align")
    def app(cfg) -> None:
        run(cfg)

    app()


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "score":
        return score_main(sys.argv[2:])
    _hydra_main()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``gazelm report <multirun dir>``: table of mean ± std over seeds, paired tests, CSV/Markdown/PNG.

Defaults come from ``conf/report.yaml``; flags override them::

    gazelm report outputs/multiruns/2026-01-01/12-00-00 --baseline objective=ce
    gazelm report SWEEP --metrics test/codebleu test/bleu_codexglue --out reports/eyemulator
    gazelm report --wandb-project gazelm-sweeps --baseline objective=ce   # runs read from W&B

Failed and missing jobs are listed first; a paired comparison that would leave one out is
refused unless ``--allow-missing``. Multiruns of ``gazelm align`` report one row per
method × model × K (precision, recall, F1, Krippendorff's α).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from omegaconf import OmegaConf

from gazelm.config import conf_dir
from gazelm.errors import GazelmInputError
from gazelm.report.collect import load_multirun
from gazelm.report.console import report_tables
from gazelm.report.table import build_report
from gazelm.report.wandb_io import load_wandb_runs, log_report_tables, wandb_enabled
from gazelm.report.write import markdown_table, write_report
from gazelm.sweep import console, job_states, print_job_table, summary_line


def _key_values(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        for part in item.split(","):
            if "=" not in part:
                raise GazelmInputError(f"expected key=value, got {part!r}", field="baseline")
            key, value = part.split("=", 1)
            out[key.strip().lstrip("+")] = value.strip()  # as in overrides.yaml keys (+group=x → group)
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="gazelm report", description=__doc__.split("\n")[0])
    p.add_argument("sweep_dir", nargs="?", help="Hydra multirun directory (jobs in numbered subfolders)")
    p.add_argument("--baseline", nargs="+", default=None, metavar="KEY=VALUE",
                   help="baseline row, e.g. objective=ce")
    p.add_argument("--metrics", nargs="+", default=None, help="metric keys (default: all in metrics.json)")
    p.add_argument("--out", default=None, help="output folder (default: <sweep_dir>/report)")
    p.add_argument("--seed-key", default=None)
    p.add_argument("--samples", type=int, default=None, help="bootstrap resamples")
    p.add_argument("--bootstrap-seed", type=int, default=None)
    p.add_argument("--group-key", default=None, help="override grouping the plot bars (default task)")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--allow-missing", action="store_true",
                   help="run the paired tests on the complete pairs only when jobs failed or are missing")
    p.add_argument("--wandb-project", default=None)
    p.add_argument("--wandb-entity", default=None)
    p.add_argument("--config", default=str(conf_dir() / "report.yaml"), help="defaults file")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return _run(args)
    except GazelmInputError as err:
        print(f"gazelm report: {err}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    cfg = OmegaConf.to_container(OmegaConf.load(args.config), resolve=True)
    baseline = _key_values(args.baseline) if args.baseline else {k: str(v) for k, v in (cfg.get("baseline") or {}).items()}
    metrics = args.metrics or cfg.get("metrics") or None
    project = args.wandb_project or (cfg.get("wandb") or {}).get("project")
    entity = args.wandb_entity or (cfg.get("wandb") or {}).get("entity")
    out_console = console()
    if args.sweep_dir:
        jobs = load_multirun(args.sweep_dir)
        states = job_states(args.sweep_dir)
        incomplete = [s for s in states if s.status != "ok"]
        if incomplete:
            print_job_table(incomplete, f"{args.sweep_dir}: {summary_line(states)}; not finished:")
            if baseline and not args.allow_missing:
                print(f"gazelm report: {len(incomplete)} job(s) failed or missing (listed above): the paired tests "
                      "would leave them out; rerun them, or pass --allow-missing", file=sys.stderr)
                return 2
    elif wandb_enabled(project):
        jobs = load_wandb_runs(project, entity)
    else:
        print("gazelm report: give a multirun directory (or --wandb-project with W&B on)", file=sys.stderr)
        return 2
    report = build_report(jobs, baseline=baseline, metrics=metrics,
                          seed_key=args.seed_key or cfg.get("seed_key", "seed"),
                          bootstrap_samples=args.samples or int(cfg.get("bootstrap_samples", 10_000)),
                          bootstrap_seed=args.bootstrap_seed if args.bootstrap_seed is not None
                          else int(cfg.get("bootstrap_seed", 0)), allow_missing=args.allow_missing)
    out = args.out or cfg.get("out_dir") or (Path(args.sweep_dir) / "report" if args.sweep_dir else Path("report"))
    group_key = args.group_key or cfg.get("group_key") or "task"
    paths = write_report(report, out, plots=not args.no_plots and bool(cfg.get("plots", True)), group_key=group_key)
    for table in report_tables(report, group_key):
        out_console.print(table)
    participants = cfg.get("participants") or {}
    if participants.get("treatment"):
        from gazelm.report.participants import sweep_participant_tests

        tests = sweep_participant_tests(jobs, report.keys, participants["treatment"],
                                        participants.get("baselines") or ())
        if len(tests):
            paths["participants_csv"] = Path(out) / "participants.csv"
            tests.to_csv(paths["participants_csv"], index=False)
            text = ("\n\nPer-participant paired Wilcoxon signed-rank tests (each person's mean over their "
                    f"trials, seeds pooled; {participants['treatment']} against each baseline prompt):\n\n"
                    + markdown_table(tests.round(6)))
            with open(paths["markdown"], "a", encoding="utf-8") as fh:
                fh.write(text)
            print(text.lstrip("\n"), end="")
    print(f"wrote {', '.join(p.name for p in paths.values())} to {out}")
    if log_report_tables(report, project, entity):
        print(f"logged W&B Tables to project {project}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

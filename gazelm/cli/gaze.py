"""``gazelm gaze``: read eye-tracking files, fit priors, compute weights, show them.

    gazelm gaze read PATH --format F [--interest-areas DIR] [--on-error drop]
    gazelm gaze fit-priors PATH --format itrace|eyelink --out DIR [--interest-areas DIR] [--min-count 5]
    gazelm gaze weights --input rows.jsonl --priors DIR --out out.jsonl [--variant full] [--w-base 3]
    gazelm gaze simulate FILE|- --language java [--priors combined] [--seed 0]
    gazelm gaze heatmap FILE --language java --out map.png|map.html [--priors combined | --fixations PATH ...]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gazelm.errors import GazelmInputError
from gazelm.jsonl import iter_jsonl


def _read(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from gazelm.gaze.readers import read_fixations

    options = {"on_error": args.on_error}
    if args.interest_areas:
        options["interest_areas"] = args.interest_areas
    table = read_fixations(args.path, args.format, **options)
    c = table.attrs["counts"]
    console = Console()
    summary = Table(title=f"{args.path} ({args.format})")
    for col in ("files", "participants", "stimuli", "trials", "fixations read", "mapped to a token",
                "unmapped", "dropped"):
        summary.add_column(col, justify="right")
    trial_keys = [k for k in ("participant", "stimulus", "session", "trial", "run") if k in table.columns]
    summary.add_row(str(len(table.attrs["files"])), str(table["participant"].nunique()),
                    str(table["stimulus"].nunique()), str(len(table.drop_duplicates(trial_keys))),
                    str(c["read"]), str(c["mapped"]), str(c["unmapped"]), str(sum(c["dropped"].values())))
    console.print(summary)
    reasons = Table(title="why not mapped / dropped")
    reasons.add_column("kind")
    reasons.add_column("reason")
    reasons.add_column("fixations", justify="right")
    for kind, items in (("unmapped", c["unmapped_reasons"]), ("dropped", c["dropped"])):
        for reason, n in sorted(items.items()):
            reasons.add_row(kind, reason, str(n))
    if reasons.row_count:
        console.print(reasons)
    if "label" in table.columns:
        labels = Table(title="fixations per semantic label")
        labels.add_column("label")
        labels.add_column("fixations", justify="right")
        for label, n in table["label"].value_counts().items():
            labels.add_row(str(label), str(n))
        console.print(labels)
    return 0


def _fit(args: argparse.Namespace) -> int:
    from gazelm.gaze.priors import fit_label_priors, save_priors
    from gazelm.gaze.studies import attention_table, eyelink_trials, itrace_trials

    if args.format == "itrace":
        trials = itrace_trials(args.path)
    elif args.format == "eyelink":
        if not args.interest_areas:
            raise GazelmInputError("eyelink needs --interest-areas DIR", field="--interest-areas")
        trials = eyelink_trials(args.path, args.interest_areas, args.code_snippets)
    else:
        raise GazelmInputError(f"fit-priors reads itrace or eyelink studies, not {args.format!r}", field="--format")
    from gazelm.config import default_data_dir

    command = " ".join(["gazelm gaze", *(f"'{a}'" if " " in a else a for a in sys.argv[1:])])
    command = command.replace(str(Path(default_data_dir())), "$GAZELM_DATA_DIR")
    priors = fit_label_priors(trials, min_count=args.min_count, meta={"format": args.format, "command": command})
    out = save_priors(priors, args.out)
    print(f"{len(trials)} trials, {len(priors.betas)} labels, {len(priors.ngram_counts)} n-grams → {out}")
    if args.format == "eyelink":
        from gazelm.gaze.readers import _default_code_dir

        code_dir = Path(args.code_snippets) if args.code_snippets else _default_code_dir(Path(args.interest_areas))
        names = {t.stimulus for t in trials}
        code_of = {}
        for name in names:
            from gazelm.gaze.readers import _snippet_candidates

            for cand in _snippet_candidates(name):
                if (code_dir / f"{cand}.py").exists():
                    code_of[name] = (code_dir / f"{cand}.py").read_text(encoding="utf-8")
                    break
        table = attention_table(trials, code_of)
        (out / "attention.json").write_text(json.dumps(table) + "\n")
        print(f"attention for {len(table)} snippets → {out / 'attention.json'}")
    return 0


def _weights(args: argparse.Namespace) -> int:
    from gazelm.gaze.priors import load_priors
    from gazelm.gaze.weights import row_weights

    priors = load_priors(args.priors)
    src, dst = Path(args.input), Path(args.out)
    n = 0
    with dst.open("w", encoding="utf-8") as fout:
        for lineno, row in iter_jsonl(src):
            try:
                row["weights"] = row_weights(row, priors, variant=args.variant, w_base=args.w_base,
                                             seed=args.seed + lineno)
            except GazelmInputError as exc:
                raise GazelmInputError(str(exc), path=src, row=lineno, field=exc.field) from exc
            fout.write(json.dumps(row) + "\n")
            n += 1
    print(f"{n} rows with weights → {dst}")
    return 0


def _code_text(path: str) -> str:
    return sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")


def _simulated(args: argparse.Namespace):
    from gazelm.gaze.providers import PriorsGazeProvider

    code = _code_text(args.file)
    provider = PriorsGazeProvider(priors=args.priors, weights_variant=args.variant, w_base=args.w_base,
                                  seed=args.seed)
    ann = provider.annotate(code, args.language, "")
    if ann is None:
        raise GazelmInputError(f"no grammar for language {args.language!r}", field="--language")
    return code, ann


def _simulate(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.text import Text

    code, ann = _simulated(args)
    top = max(ann.weights) if ann.weights else 1.0
    text = Text(code)
    for (a, b), w, m in zip(ann.spans, ann.weights, ann.mask or [0] * len(ann.spans)):
        if m:
            level = (w - 1.0) / max(top - 1.0, 1e-9)
            text.stylize(f"bold black on rgb(255,{int(235 - 150 * level)},{int(120 - 100 * level)})", a, b)
    console = Console()
    console.print(text)
    console.print(f"[dim]{sum(ann.mask or [])} of {len(ann.spans)} tokens on the pseudo-scanpath; "
                  f"weights {min(ann.weights):.3f}–{top:.3f} (priors {args.priors}, variant {args.variant})[/dim]")
    return 0


def _heatmap(args: argparse.Namespace) -> int:
    from gazelm.attention.heatmap import save_heatmap

    code = _code_text(args.file)
    if args.fixations:
        from gazelm.gaze.studies import eyelink_trials

        trials = [t for t in eyelink_trials(args.fixations, args.interest_areas) if t.stimulus == args.stimulus]
        if not trials:
            raise GazelmInputError(f"no trials on stimulus {args.stimulus!r}", path=args.fixations, field="--stimulus")
        import numpy as np

        values = list(np.mean([t.attention() for t in trials], axis=0))
        spans = [(t.start, t.end) for t in trials[0].tokens]
        name = f"mean normalised dwell, {args.stimulus} ({len(trials)} trials)"
        vmin = 0.0
    else:
        _, ann = _simulated(args)
        spans, values = list(ann.spans), list(ann.weights)
        name = f"EyeMulator weights ({args.priors}, {args.variant})"
        vmin = None  # weights start at 1: colour from the smallest
    save_heatmap(args.out, code, spans, {name: values}, title=Path(args.file).name if args.file != "-" else "",
                 vmin=vmin, dpi=args.dpi)
    print(f"heatmap → {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from gazelm.gaze.readers import FORMATS
    from gazelm.gaze.weights import VARIANTS

    parser = argparse.ArgumentParser(prog="gazelm gaze", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("read", help="summary table of a fixation file or folder")
    p.add_argument("path")
    p.add_argument("--format", required=True, choices=FORMATS.names())
    p.add_argument("--interest-areas", help="EyeLink: folder of IA-<snippet>.ias files")
    p.add_argument("--on-error", choices=("raise", "drop"), default="raise")
    p.set_defaults(func=_read)
    p = sub.add_parser("fit-priors", help="fit label priors from an iTrace or EyeLink study")
    p.add_argument("path")
    p.add_argument("--format", required=True, choices=("itrace", "eyelink"))
    p.add_argument("--out", required=True)
    p.add_argument("--interest-areas")
    p.add_argument("--code-snippets")
    p.add_argument("--min-count", type=int, default=5)
    p.set_defaults(func=_fit)

    def weight_options(q: argparse.ArgumentParser) -> None:
        q.add_argument("--variant", choices=VARIANTS, default="full")
        q.add_argument("--w-base", type=float, default=3.0)
        q.add_argument("--seed", type=int, default=0)

    p = sub.add_parser("weights", help="add EyeMulator weights to EyeMulator-schema JSONL rows")
    p.add_argument("--input", required=True)
    p.add_argument("--priors", required=True, help="priors folder, shipped name or combined/reading/writing")
    p.add_argument("--out", required=True)
    weight_options(p)
    p.set_defaults(func=_weights)
    for name, func, helptext in (("simulate", _simulate, "code coloured by its pseudo-scanpath weights"),
                                 ("heatmap", _heatmap, "PNG of code with per-token weights or dwell")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("file", help="code file, or - for stdin")
        p.add_argument("--language", default="java")
        p.add_argument("--priors", default="combined")
        weight_options(p)
        if name == "heatmap":
            p.add_argument("--out", required=True, help="PNG (or .svg, .pdf) image, or .html")
            p.add_argument("--dpi", type=int, default=150)
            p.add_argument("--fixations", help="EyeLink reports: plot mean dwell instead of weights")
            p.add_argument("--interest-areas")
            p.add_argument("--stimulus", help="snippet id of FILE in the reports")
        p.set_defaults(func=func)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return args.func(args)
    except GazelmInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())

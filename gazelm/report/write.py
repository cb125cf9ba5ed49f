"""Write a :class:`~gazelm.report.table.Report`: CSV, Markdown and PNG grouped bar plots."""
from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd

from gazelm.report.table import Report


def markdown_table(df: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table (``|`` in cells escaped); no extra dependency."""
    def cell(x: object) -> str:
        return str(x).replace("|", "\\|").replace("\n", " ")

    cols = [cell(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join(["---"] * len(cols)) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def plot_metric(report: Report, metric: str, path: Path, group_key: str = "task") -> Path:
    """Grouped bars with ±std error bars: one group per ``group_key`` value (one panel when absent)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = report.summary[report.summary["metric"] == metric]
    other = [k for k in report.keys if k != group_key]
    groups = sorted(s[group_key].unique()) if group_key in report.keys else [""]
    label = (lambda r: ", ".join(f"{k}={r[k]}" for k in other) or metric)
    series = sorted({label(r) for _, r in s.iterrows()})
    width = 0.8 / max(1, len(series))
    fig, ax = plt.subplots(figsize=(max(4.0, 1.6 * len(groups) * max(1, len(series)) ** 0.5), 3.6))
    for i, name in enumerate(series):
        means, stds = [], []
        for g in groups:
            sel = s[[label(r) == name and (not g or r[group_key] == g) for _, r in s.iterrows()]]
            means.append(float(sel["mean"].iloc[0]) if len(sel) else math.nan)
            std = float(sel["std"].iloc[0]) if len(sel) else math.nan
            stds.append(0.0 if math.isnan(std) else std)
        xs = [j + (i - (len(series) - 1) / 2) * width for j in range(len(groups))]
        ax.bar(xs, means, width, yerr=stds, capsize=3, label=name)
    ax.set_xticks(range(len(groups)), [str(g) if g else metric for g in groups])
    ax.set_ylabel(metric)
    ax.set_title(f"{metric}: mean ± std over seeds")
    if len(series) > 1:
        ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_report(report: Report, out_dir: str | Path, plots: bool = True,
                 group_key: str = "task") -> dict[str, Path]:
    """Write ``summary.csv``, ``comparison.csv``, ``table.csv``, ``report.md`` and one PNG per metric."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"summary_csv": out / "summary.csv", "comparison_csv": out / "comparison.csv",
             "table_csv": out / "table.csv", "markdown": out / "report.md"}
    report.summary.to_csv(paths["summary_csv"], index=False)
    report.comparison.to_csv(paths["comparison_csv"], index=False)
    report.table.to_csv(paths["table_csv"], index=False)
    text = ["# Sweep report", "",
            f"Rows: {', '.join(report.keys) or '(single configuration)'}; mean ± std over seeds (n = jobs).", ""]
    if report.baseline:
        base = ", ".join(f"{k}={v}" for k, v in report.baseline.items())
        text += [f"Baseline: {base}. Δ = row − baseline; p_boot: paired bootstrap over per-example "
                 "scores (pooled over matched seeds); p_wilcoxon: Wilcoxon signed-rank over seeds; "
                 "d: Cohen's d_z.", ""]
    paths["markdown"].write_text("\n".join(text) + markdown_table(report.table), encoding="utf-8")
    if plots:
        for metric in report.metrics:
            paths[f"plot:{metric}"] = plot_metric(report, metric, out / f"{_safe(metric)}.png", group_key)
    return paths

"""The report on a terminal: one compact rich table per group (e.g. per task).

Rows are the arms (the varying overrides other than the group key) with their number of
jobs; columns the headline metrics (the ``test/`` ones when the jobs have any, else all
selected); a cell is ``mean ± std`` over seeds and, against a baseline, the paired p-value
below it (bootstrap over examples where per-example scores exist, else Wilcoxon over seeds).
The wide table with every statistic is written to CSV and Markdown (:mod:`gazelm.report.write`).
"""
from __future__ import annotations

import math

import pandas as pd

from gazelm.report.table import MISSING, Report, fmt


def headline(report: Report) -> list[str]:
    """The ``test/`` metrics when there are any (else all selected), the loss last."""
    test = [m for m in report.metrics if m.startswith("test/")] or list(report.metrics)
    return sorted(test, key=lambda m: m.endswith("/loss"))


def _select(df: pd.DataFrame, values: dict[str, str]) -> pd.DataFrame:
    for key, value in values.items():
        df = df[df[key] == value]
    return df


def _p_value(comparison: pd.DataFrame) -> float:
    if not len(comparison):
        return math.nan
    row = comparison.iloc[0]
    return row["p_bootstrap"] if not math.isnan(row["p_bootstrap"]) else row["p_wilcoxon"]


def report_tables(report: Report, group_key: str | None = "task") -> list:
    """Rich tables (one per value of ``group_key`` when it varies, else one)."""
    from rich.markup import escape
    from rich.table import Table

    group = group_key if group_key in report.keys else None
    arms = [k for k in report.keys if k != group]
    metrics = headline(report)
    prefix = "test/" if all(m.startswith("test/") for m in metrics) else ""
    summary = report.summary
    groups = list(dict.fromkeys(summary[group])) if group else [None]
    base = ", ".join(f"{k}={v}" for k, v in report.baseline.items())
    tables = []
    for value in groups:
        rows = summary[summary[group] == value] if group else summary
        shown = [m for m in metrics if (rows[rows["metric"] == m]["n"] > 0).any()]
        title = escape(f"{group}={value}") if group else "gazelm report"
        table = Table(title=title + (" (test split)" if prefix else ""), title_justify="left",
                      caption=f"mean ± std over seeds; p: paired test against {base}" if base else
                      "mean ± std over seeds", caption_justify="left")
        table.add_column(" ".join(arms) or "run")
        table.add_column("n", justify="right")
        for metric in shown:
            table.add_column(metric.removeprefix(prefix), justify="right")
        arm_rows = rows[arms].drop_duplicates() if arms else pd.DataFrame([{}])
        for _, arm in arm_rows.iterrows():
            where = {**({group: value} if group else {}), **{k: arm[k] for k in arms}}
            is_base = bool(base) and all(where.get(k) == v for k, v in report.baseline.items())
            cells, n = [], 0
            for metric in shown:
                s = _select(summary[summary["metric"] == metric], where)
                if not len(s) or int(s["n"].iloc[0]) == 0:
                    cells.append(MISSING)
                    continue
                n = max(n, int(s["n"].iloc[0]))
                mean, std = float(s["mean"].iloc[0]), float(s["std"].iloc[0])
                cell = f"{fmt(mean)} ± {fmt(std)}" if not math.isnan(std) else fmt(mean)
                if base and not is_base and len(report.comparison):
                    p = _p_value(_select(report.comparison[report.comparison["metric"] == metric], where))
                    cell += f"\np={fmt(p, 2)}" + (" *" if p < 0.05 else "")
                cells.append(cell)
            label = (" ".join(str(arm[k]) for k in arms) or "(one configuration)") + (" (baseline)" if is_base else "")
            table.add_row(escape(label), str(n), *cells)
        tables.append(table)
    return tables

"""Sweep jobs → one table: rows = varying config values, metrics as mean ± std over seeds,
plus a paired comparison of every row against its baseline row.

Seeds are aggregated, never selected: every seed's value is listed in ``values``.
The baseline of a row is the row with the baseline's settings substituted
(``objective=ce`` compares ``objective=eyemulator,task=t`` with ``objective=ce,task=t``).
Paired tests (see :mod:`gazelm.metrics.significance`):

* ``p_bootstrap`` — paired bootstrap over per-example scores, examples paired by id
  within each seed, seeds matched by seed value, pairs pooled over seeds (in job
  order, ids sorted within a job; the order fixes the resamples for a given seed);
* ``p_wilcoxon`` — Wilcoxon signed-rank over the seed-level values of matched seeds;
* ``effect_dz`` — Cohen's d_z of the pooled per-example differences (of the seed-level
  differences when no per-example scores exist).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from gazelm.errors import GazelmInputError
from gazelm.metrics.registry import headline_metric_names
from gazelm.metrics.significance import cohens_dz, paired_bootstrap, wilcoxon_signed_rank
from gazelm.report.collect import Job

MISSING = "—"


@dataclass
class Report:
    """``summary`` and ``comparison`` are long numeric tables; ``table`` is the formatted wide one."""

    keys: list[str]
    metrics: list[str]
    summary: pd.DataFrame
    comparison: pd.DataFrame
    table: pd.DataFrame
    baseline: dict[str, str]


def varying_keys(jobs: Sequence[Job], exclude: Iterable[str] = ("seed",)) -> list[str]:
    """Override keys whose value differs across jobs, in first-seen order (``hydra.*`` and ``exclude`` left out)."""
    excluded = set(exclude)
    order: dict[str, None] = {}
    for job in jobs:
        for key in job.overrides:
            order.setdefault(key, None)
    return [k for k in order if k not in excluded and not k.startswith("hydra.")
            and len({job.overrides.get(k, MISSING) for job in jobs}) > 1]


def _select_metrics(jobs: Sequence[Job], metrics: Sequence[str] | None) -> list[str]:
    available: dict[str, None] = {}
    for job in jobs:
        for key in job.metrics:
            available.setdefault(key, None)
    if not metrics:  # evaluation metrics only: val/… and test/…, without components or train/lr curves
        return headline_metric_names(sorted(available)) or sorted(available)  # (align jobs: P, R, F1, α)
    chosen = []
    for wanted in metrics:
        hits = [k for k in available if k == wanted or k.split("/", 1)[-1] == wanted]
        if not hits:
            raise GazelmInputError(f"metric {wanted!r} is in no job's metrics.json; available: "
                                   f"{', '.join(sorted(available))}", field="metrics")
        chosen.extend(h for h in sorted(hits) if h not in chosen)
    return chosen


def _metric_higher_is_better(key: str) -> bool | None:
    from gazelm.metrics import higher_is_better
    from gazelm.registry import UnknownNameError

    name = key.split("/", 1)[-1]
    try:
        return higher_is_better(name)
    except UnknownNameError:
        return False if "loss" in name or "perplexity" in name else None


def fmt(x: float, digits: int = 4) -> str:
    return "nan" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}g}"


def build_report(jobs: Sequence[Job], baseline: dict[str, str] | None = None,
                 metrics: Sequence[str] | None = None, seed_key: str = "seed",
                 bootstrap_samples: int = 10_000, bootstrap_seed: int = 0, allow_missing: bool = False) -> Report:
    """Aggregate ``jobs`` over seeds and compare every row with its baseline row.

    A comparison needs every seed of a row and of its baseline row on both sides (a failed or
    missing job breaks its pair): an incomplete pairing is an error naming the unpaired jobs,
    unless ``allow_missing`` (then only the complete pairs are tested, ``n_seeds`` says how many).
    """
    keys = varying_keys(jobs, exclude=(seed_key,))
    chosen = _select_metrics(jobs, metrics)
    baseline = {k: str(v) for k, v in (baseline or {}).items()}
    for key in baseline:
        if key not in keys:
            raise GazelmInputError(f"baseline key {key!r} does not vary across jobs; varying: "
                                   f"{', '.join(keys) or '(none)'}", field="baseline")

    def row_of(job: Job) -> tuple[str, ...]:
        return tuple(job.overrides.get(k, MISSING) for k in keys)

    rows: dict[tuple[str, ...], list[Job]] = {}
    for job in jobs:
        rows.setdefault(row_of(job), []).append(job)
    for key, value in baseline.items():
        if value not in {r[keys.index(key)] for r in rows}:
            raise GazelmInputError(f"no job has {key}={value}", field="baseline")

    summary_records, compare_records = [], []
    for row, row_jobs in rows.items():
        for metric in chosen:
            pairs = [(j.overrides.get(seed_key, MISSING), j.metrics[metric]) for j in row_jobs if metric in j.metrics]
            values = np.array([v for _, v in pairs], dtype=float)
            summary_records.append({
                **dict(zip(keys, row)), "metric": metric,
                "mean": float(values.mean()) if values.size else math.nan,
                "std": float(values.std(ddof=1)) if values.size > 1 else math.nan,
                "n": int(values.size),
                "values": "; ".join(f"{seed_key}={s}:{v:.6g}" for s, v in pairs),
            })
    summary = pd.DataFrame(summary_records)

    def mean_of(row: tuple[str, ...], metric: str) -> float:
        sel = summary[(summary["metric"] == metric)]
        for k, v in zip(keys, row):
            sel = sel[sel[k] == v]
        return float(sel["mean"].iloc[0]) if len(sel) else math.nan

    def label(row: tuple[str, ...]) -> str:
        return ",".join(f"{k}={v}" for k, v in zip(keys, row))

    unpaired: list[str] = []
    if baseline:
        for row, row_jobs in rows.items():
            base_row = tuple(baseline.get(k, v) for k, v in zip(keys, row))
            if base_row == row:
                continue
            if base_row not in rows:
                unpaired.append(f"{label(row)}: no baseline job {label(base_row)}")
                continue
            base_by_seed = {j.overrides.get(seed_key, MISSING): j for j in rows[base_row]}
            seeds = {j.overrides.get(seed_key, MISSING) for j in row_jobs}
            unpaired += [f"{label(base_row)},{seed_key}={s}: its twin {label(row)},{seed_key}={s} is missing"
                         for s in sorted(set(base_by_seed) - seeds)]
            for metric in chosen:
                seed_a, seed_b, ex_a, ex_b = [], [], [], []
                for job in row_jobs:
                    base = base_by_seed.get(job.overrides.get(seed_key, MISSING))
                    if base is None or metric not in job.metrics or metric not in base.metrics:
                        seed = job.overrides.get(seed_key, MISSING)
                        if base is None:
                            unpaired.append(f"{label(row)},{seed_key}={seed}: no baseline twin")
                        elif (metric in job.metrics) != (metric in base.metrics):  # absent on both: not its metric
                            unpaired.append(f"{label(row)},{seed_key}={seed}: {metric} only on one side")
                        continue
                    seed_a.append(base.metrics[metric])
                    seed_b.append(job.metrics[metric])
                    pa, pb = base.per_example.get(metric, {}), job.per_example.get(metric, {})
                    for ex_id in sorted(set(pa) & set(pb)):
                        ex_a.append(pa[ex_id])
                        ex_b.append(pb[ex_id])
                boot = paired_bootstrap(ex_a, ex_b, bootstrap_samples, bootstrap_seed) if ex_a else None
                compare_records.append({
                    **dict(zip(keys, row)), "metric": metric,
                    "baseline": ",".join(f"{k}={v}" for k, v in baseline.items()),
                    "delta": mean_of(row, metric) - mean_of(base_row, metric),
                    "higher_is_better": _metric_higher_is_better(metric),
                    "p_bootstrap": boot.p_value if boot else math.nan,
                    "ci_low": boot.ci_low if boot else math.nan,
                    "ci_high": boot.ci_high if boot else math.nan,
                    "p_wilcoxon": wilcoxon_signed_rank(seed_a, seed_b),
                    "effect_dz": cohens_dz(ex_a, ex_b) if ex_a else cohens_dz(seed_a, seed_b),
                    "n_seeds": len(seed_a), "n_examples": len(ex_a),
                })
    if unpaired and not allow_missing:
        shown = list(dict.fromkeys(unpaired))
        raise GazelmInputError(f"incomplete pairing for the paired tests ({len(shown)}): " + "; ".join(shown[:10])
                               + (" ..." if len(shown) > 10 else "")
                               + " — rerun the missing jobs, or pass --allow-missing to test the complete pairs only",
                               field="baseline")
    comparison = pd.DataFrame(compare_records, columns=[*keys, "metric", "baseline", "delta", "higher_is_better",
                                                        "p_bootstrap", "ci_low", "ci_high", "p_wilcoxon",
                                                        "effect_dz", "n_seeds", "n_examples"])
    table = _format_table(keys, chosen, rows, summary, comparison, baseline)
    return Report(keys, chosen, summary, comparison, table, baseline)


def _format_table(keys: list[str], metrics: list[str], rows: dict[tuple[str, ...], list[Job]],
                  summary: pd.DataFrame, comparison: pd.DataFrame, baseline: dict[str, str]) -> pd.DataFrame:
    """Wide table: one line per row, ``mean ± std`` per metric, then Δ, p-values and d_z vs baseline."""
    records = []
    for row, row_jobs in rows.items():
        rec: dict[str, str] = dict(zip(keys, row))
        rec["n"] = str(len(row_jobs))
        is_base = bool(baseline) and all(dict(zip(keys, row)).get(k) == v for k, v in baseline.items())
        for metric in metrics:
            s = summary[summary["metric"] == metric]
            c = comparison[comparison["metric"] == metric] if len(comparison) else comparison
            for k, v in zip(keys, row):
                s = s[s[k] == v]
                if len(c):
                    c = c[c[k] == v]
            mean, std = float(s["mean"].iloc[0]), float(s["std"].iloc[0])
            rec[metric] = f"{fmt(mean)} ± {fmt(std)}" if not math.isnan(std) else fmt(mean)
            if int(s["n"].iloc[0]) == 0:  # not a metric of this row (e.g. another task's)
                rec[metric] = MISSING
                if baseline:
                    rec[f"{metric} Δ"] = rec[f"{metric} p_boot"] = rec[f"{metric} p_wilcoxon"] = rec[f"{metric} d"] = ""
                continue
            if baseline:
                if is_base:
                    rec[f"{metric} Δ"], rec[f"{metric} p_boot"], rec[f"{metric} p_wilcoxon"], rec[f"{metric} d"] = (
                        "baseline", "", "", "")
                elif len(c):
                    r = c.iloc[0]
                    rec[f"{metric} Δ"] = f"{r['delta']:+.4g}"
                    rec[f"{metric} p_boot"] = fmt(r["p_bootstrap"], 3)
                    rec[f"{metric} p_wilcoxon"] = fmt(r["p_wilcoxon"], 3)
                    rec[f"{metric} d"] = fmt(r["effect_dz"], 3)
                else:
                    rec[f"{metric} Δ"] = rec[f"{metric} p_boot"] = rec[f"{metric} p_wilcoxon"] = rec[f"{metric} d"] = ""
        records.append(rec)
    return pd.DataFrame(records)

"""Per-participant paired tests: does the treatment beat a baseline *for the same people*?

Per-example scores carry the person (``user``) and are keyed ``<condition>_<rest>`` (e.g.
``fixate_tf_kl``, ``backbone_tf_kl``, ``population_tf_kl``). For every metric of the treatment
condition and every baseline condition: each person's mean over their trials under both, then
the two-sided Wilcoxon signed-rank test over the people who have both (FixATE's
``_compute_wilcoxon_per_user``; :func:`gazelm.metrics.significance.wilcoxon_signed_rank`).
"""
from __future__ import annotations

import math
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from gazelm.metrics.significance import wilcoxon_signed_rank

COLUMNS = ["metric", "treatment", "baseline", "n_users", "mean_treatment", "mean_baseline", "delta", "p_wilcoxon"]


def user_means(records: Iterable[Mapping], key: str) -> dict[str, float]:
    """``{user: mean of scores[key]}`` over records that have the key (NaN values skipped)."""
    values: dict[str, list[float]] = {}
    for r in records:
        v = r["scores"].get(key)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        values.setdefault(str(r["user"]), []).append(float(v))
    return {u: float(np.mean(v)) for u, v in values.items()}


def participant_tests(records: Sequence[Mapping], treatment: str = "fixate",
                      baselines: Sequence[str] = ("backbone", "population")) -> pd.DataFrame:
    """One row per (treatment metric, baseline): users, means, Δ = treatment − baseline, p."""
    records = [r for r in records if r.get("user") is not None]
    keys = sorted({k for r in records for k in r["scores"] if k.startswith(treatment + "_")})
    rows = []
    for key in keys:
        rest = key[len(treatment) + 1:]
        mine = user_means(records, key)
        for base in baselines:
            theirs = user_means(records, f"{base}_{rest}")
            users = sorted(set(mine) & set(theirs))
            if not users:
                continue
            a = np.array([theirs[u] for u in users])
            b = np.array([mine[u] for u in users])
            rows.append({"metric": rest, "treatment": treatment, "baseline": base, "n_users": len(users),
                         "mean_treatment": float(b.mean()), "mean_baseline": float(a.mean()),
                         "delta": float((b - a).mean()), "p_wilcoxon": wilcoxon_signed_rank(a, b)})
    return pd.DataFrame(rows, columns=COLUMNS)


def sweep_participant_tests(jobs: Sequence, keys: Sequence[str], treatment: str = "fixate",
                            baselines: Sequence[str] = ("backbone", "population"),
                            missing: str = "—") -> pd.DataFrame:
    """:func:`participant_tests` per sweep row (the varying ``keys``; seeds pooled) and split, from the
    jobs' per-example scores and users (:class:`gazelm.report.collect.Job`)."""
    groups: dict[tuple, list] = {}
    for job in jobs:
        if job.example_users:
            groups.setdefault(tuple(job.overrides.get(k, missing) for k in keys), []).append(job)
    frames = []
    for row, row_jobs in groups.items():
        splits = sorted({s for j in row_jobs for s in j.example_users})
        for split in splits:
            records = []
            for job in row_jobs:
                users = job.example_users.get(split, {})
                by_id: dict[str, dict[str, float]] = {}
                for metric, values in job.per_example.items():
                    if metric.startswith(split + "/"):
                        for ex, v in values.items():
                            by_id.setdefault(ex, {})[metric[len(split) + 1:]] = v
                records += [{"user": users[ex], "scores": sc} for ex, sc in by_id.items() if ex in users]
            table = participant_tests(records, treatment, baselines)
            if len(table):
                frames.append(table.assign(split=split, **dict(zip(keys, row))))
    if not frames:
        return pd.DataFrame(columns=[*keys, "split", *COLUMNS])
    out = pd.concat(frames, ignore_index=True)
    return out[[*keys, "split", *COLUMNS]]
